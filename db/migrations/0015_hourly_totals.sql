CREATE TABLE "rollups_1h_totals" (
	"bucket" timestamp with time zone NOT NULL,
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
	"ttft_hist" json DEFAULT '{}'::json NOT NULL,
	"itl_hist" json DEFAULT '{}'::json NOT NULL,
	"duration_hist" json DEFAULT '{}'::json NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rollups_1h_totals_bucket_pk" PRIMARY KEY("bucket")
);
--> statement-breakpoint
-- The hours rolled before this migration get their totals now: readers take a week's
-- hours from this table alone (db/queries/rollup-rows.ts).
INSERT INTO "rollups_1h_totals" ("bucket", "responses", "errors", "with_output", "input_tokens", "output_tokens",
  "generation_tokens", "generation_seconds", "bytes_sent", "bytes_received", "connection_responses", "reused_responses",
  "ttft_sum_ms", "duration_sum_ms", "ttft_max_ms", "duration_max_ms", "itl_max_ms", "ttft_hist", "itl_hist", "duration_hist", "updated_at")
SELECT "bucket", sum("responses"), sum("errors"), sum("with_output"), sum("input_tokens"), sum("output_tokens"),
  sum("generation_tokens"), sum("generation_seconds"), sum("bytes_sent"), sum("bytes_received"), sum("connection_responses"),
  sum("reused_responses"), sum("ttft_sum_ms"), sum("duration_sum_ms"), max("ttft_max_ms"), max("duration_max_ms"), max("itl_max_ms"),
  streamscope_hist_sum("ttft_hist"::jsonb), streamscope_hist_sum("itl_hist"::jsonb), streamscope_hist_sum("duration_hist"::jsonb), max("updated_at")
FROM "rollups_1h" GROUP BY "bucket";
