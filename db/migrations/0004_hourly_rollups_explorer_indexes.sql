CREATE TABLE "rollups_1h" (
	"bucket" timestamp with time zone NOT NULL,
	"service" text NOT NULL,
	"model" text NOT NULL,
	"transport" text NOT NULL,
	"responses" bigint DEFAULT 0 NOT NULL,
	"errors" bigint DEFAULT 0 NOT NULL,
	"with_output" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"generation_tokens" bigint DEFAULT 0 NOT NULL,
	"generation_seconds" double precision DEFAULT 0 NOT NULL,
	"bytes_sent" bigint DEFAULT 0 NOT NULL,
	"bytes_received" bigint DEFAULT 0 NOT NULL,
	"connection_responses" bigint DEFAULT 0 NOT NULL,
	"reused_responses" bigint DEFAULT 0 NOT NULL,
	"ttft_sum_ms" double precision DEFAULT 0 NOT NULL,
	"duration_sum_ms" double precision DEFAULT 0 NOT NULL,
	"ttft_max_ms" double precision,
	"duration_max_ms" double precision,
	"itl_max_ms" double precision,
	"ttft_hist" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"itl_hist" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"duration_hist" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rollups_1h_bucket_service_model_transport_pk" PRIMARY KEY("bucket","service","model","transport")
);
--> statement-breakpoint
DROP INDEX "responses_response_id_idx";--> statement-breakpoint
ALTER TABLE "rollups_1m" ADD COLUMN "connection_responses" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rollups_1m" ADD COLUMN "reused_responses" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rollups_1m" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "responses_trace_id_prefix_idx" ON "responses" USING btree ("trace_id" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "responses_errors_time_idx" ON "responses" USING btree ("start_time") WHERE status = 'error';--> statement-breakpoint
CREATE INDEX "rollups_1m_updated_at_idx" ON "rollups_1m" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "responses_response_id_idx" ON "responses" USING btree ("response_id" text_pattern_ops);