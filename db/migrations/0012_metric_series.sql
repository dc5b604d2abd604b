CREATE TABLE "metric_series" (
	"series_key" text PRIMARY KEY NOT NULL,
	"last_point" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "metric_series_updated_at_idx" ON "metric_series" USING btree ("updated_at");