ALTER TABLE "alert_events" ADD COLUMN "responses" integer;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "min_responses" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "last_responses" integer;