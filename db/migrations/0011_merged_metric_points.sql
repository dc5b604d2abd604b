CREATE TABLE "merged_metric_points" (
	"point_key" text PRIMARY KEY NOT NULL,
	"merged_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "merged_metric_points_merged_at_idx" ON "merged_metric_points" USING btree ("merged_at");