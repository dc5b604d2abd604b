-- Raw tables become range-partitioned by time so that retention drops whole daily
-- partitions (no row-by-row DELETE, no vacuum debt) and time-bounded reads prune to the
-- days they touch. Daily partitions are created ahead of time by db/partitions.ts; the
-- DEFAULT partition catches rows for days that have none yet (late or early clocks), and
-- ensurePartitions moves them out when it creates their day.
--
-- Existing rows are kept: they land in the DEFAULT partition here and are moved into
-- daily partitions the first time ensurePartitions runs.
--
-- Every unique index on a partitioned table must contain the partition key, so the
-- idempotency key becomes (trace_id, span_id, start_time|opened_at); an exporter retry
-- repeats the span's start time, so it still matches exactly.
CREATE TABLE "responses_partitioned" (LIKE "responses" INCLUDING DEFAULTS) PARTITION BY RANGE ("start_time");
--> statement-breakpoint
CREATE TABLE "responses_default" PARTITION OF "responses_partitioned" DEFAULT;
--> statement-breakpoint
INSERT INTO "responses_partitioned" SELECT * FROM "responses";
--> statement-breakpoint
DROP TABLE "responses";
--> statement-breakpoint
ALTER TABLE "responses_partitioned" RENAME TO "responses";
--> statement-breakpoint
CREATE UNIQUE INDEX "responses_trace_span_uq" ON "responses" USING btree ("trace_id","span_id","start_time");
--> statement-breakpoint
CREATE INDEX "responses_start_time_idx" ON "responses" USING btree ("start_time");
--> statement-breakpoint
CREATE INDEX "responses_dims_time_idx" ON "responses" USING btree ("service","model","transport","start_time");
--> statement-breakpoint
CREATE INDEX "responses_response_id_idx" ON "responses" USING btree ("response_id");
--> statement-breakpoint
CREATE INDEX "responses_connection_idx" ON "responses" USING btree ("connection_id");
--> statement-breakpoint
CREATE TABLE "connections_partitioned" (LIKE "connections" INCLUDING DEFAULTS) PARTITION BY RANGE ("opened_at");
--> statement-breakpoint
CREATE TABLE "connections_default" PARTITION OF "connections_partitioned" DEFAULT;
--> statement-breakpoint
INSERT INTO "connections_partitioned" SELECT * FROM "connections";
--> statement-breakpoint
DROP TABLE "connections";
--> statement-breakpoint
ALTER TABLE "connections_partitioned" RENAME TO "connections";
--> statement-breakpoint
CREATE UNIQUE INDEX "connections_trace_span_uq" ON "connections" USING btree ("trace_id","span_id","opened_at");
--> statement-breakpoint
CREATE INDEX "connections_connection_id_idx" ON "connections" USING btree ("connection_id");
--> statement-breakpoint
CREATE INDEX "connections_opened_at_idx" ON "connections" USING btree ("opened_at");
