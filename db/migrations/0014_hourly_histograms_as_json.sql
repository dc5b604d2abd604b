ALTER TABLE "rollups_1h" ALTER COLUMN "ttft_hist" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "rollups_1h" ALTER COLUMN "ttft_hist" SET DEFAULT '{}'::json;--> statement-breakpoint
ALTER TABLE "rollups_1h" ALTER COLUMN "itl_hist" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "rollups_1h" ALTER COLUMN "itl_hist" SET DEFAULT '{}'::json;--> statement-breakpoint
ALTER TABLE "rollups_1h" ALTER COLUMN "duration_hist" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "rollups_1h" ALTER COLUMN "duration_hist" SET DEFAULT '{}'::json;