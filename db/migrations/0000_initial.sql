CREATE TABLE "alert_events" (
	"id" serial PRIMARY KEY NOT NULL,
	"rule_id" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"from_state" text NOT NULL,
	"to_state" text NOT NULL,
	"value" double precision,
	"deliveries" jsonb DEFAULT '[]'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alert_rules" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"metric" text NOT NULL,
	"statistic" text NOT NULL,
	"comparison" text NOT NULL,
	"threshold" double precision NOT NULL,
	"window_seconds" integer NOT NULL,
	"pending_seconds" integer DEFAULT 0 NOT NULL,
	"filters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"webhooks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"state" text DEFAULT 'inactive' NOT NULL,
	"state_since" timestamp with time zone,
	"last_value" double precision,
	"last_evaluated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_rules_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "connections" (
	"trace_id" text NOT NULL,
	"span_id" text NOT NULL,
	"connection_id" text NOT NULL,
	"service" text NOT NULL,
	"transport" text,
	"server_address" text,
	"server_port" integer,
	"opened_at" timestamp with time zone NOT NULL,
	"closed_at" timestamp with time zone,
	"dns_ms" double precision,
	"tcp_ms" double precision,
	"tls_ms" double precision,
	"upgrade_ms" double precision,
	"responses" integer,
	"bytes_sent" bigint,
	"bytes_received" bigint,
	"frames_sent" bigint,
	"frames_received" bigint,
	"close_code" integer,
	"status" text NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ingested_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "responses" (
	"trace_id" text NOT NULL,
	"span_id" text NOT NULL,
	"service" text NOT NULL,
	"provider" text,
	"model" text,
	"request_model" text,
	"operation" text,
	"api" text,
	"transport" text,
	"connection_id" text,
	"connection_reused" boolean,
	"response_id" text,
	"start_time" timestamp with time zone NOT NULL,
	"ttfb_ms" double precision,
	"ttft_ms" double precision,
	"duration_ms" double precision NOT NULL,
	"input_tokens" integer,
	"output_tokens" integer,
	"output_chunks" integer,
	"tokens_per_second" double precision,
	"itl_mean_ms" double precision,
	"itl_p50_ms" double precision,
	"itl_p99_ms" double precision,
	"itl_max_ms" double precision,
	"token_offsets_us" integer[],
	"outcome" text,
	"status" text NOT NULL,
	"error_type" text,
	"error_message" text,
	"bytes_sent" bigint,
	"bytes_received" bigint,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ingested_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollups_1m" (
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
	"ttft_sum_ms" double precision DEFAULT 0 NOT NULL,
	"duration_sum_ms" double precision DEFAULT 0 NOT NULL,
	"ttft_max_ms" double precision,
	"duration_max_ms" double precision,
	"itl_max_ms" double precision,
	"ttft_hist" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"itl_hist" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"duration_hist" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "rollups_1m_bucket_service_model_transport_pk" PRIMARY KEY("bucket","service","model","transport")
);
--> statement-breakpoint
ALTER TABLE "alert_events" ADD CONSTRAINT "alert_events_rule_id_alert_rules_id_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."alert_rules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_events_rule_at_idx" ON "alert_events" USING btree ("rule_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "connections_trace_span_uq" ON "connections" USING btree ("trace_id","span_id");--> statement-breakpoint
CREATE INDEX "connections_connection_id_idx" ON "connections" USING btree ("connection_id");--> statement-breakpoint
CREATE INDEX "connections_opened_at_idx" ON "connections" USING btree ("opened_at");--> statement-breakpoint
CREATE UNIQUE INDEX "responses_trace_span_uq" ON "responses" USING btree ("trace_id","span_id");--> statement-breakpoint
CREATE INDEX "responses_start_time_idx" ON "responses" USING btree ("start_time");--> statement-breakpoint
CREATE INDEX "responses_dims_time_idx" ON "responses" USING btree ("service","model","transport","start_time");--> statement-breakpoint
CREATE INDEX "responses_response_id_idx" ON "responses" USING btree ("response_id");--> statement-breakpoint
CREATE INDEX "responses_connection_idx" ON "responses" USING btree ("connection_id");