-- Connection rollups for the raw connections still kept, computed as db/connection-rollups.ts
-- computes them at ingest: by opening minute, by closing minute, and at the start of every
-- hour a connection reported closed spanned (followed for at most 31 days). Lifetime bucket
-- keys use the DDSketch mapping of db/histogram.ts (1 % relative accuracy, values below
-- 0.001 ms in the lowest bucket). Then the completed hours, as the hourly job rolls them.
CREATE TEMPORARY TABLE "connection_rollup_sources" AS
SELECT "service", coalesce("transport", '') AS transport, "opened_at",
       CASE WHEN "closed_at" IS NOT NULL THEN greatest("closed_at", "opened_at") END AS closed_at,
       (extract(epoch FROM "closed_at" - "opened_at") * 1000)::float8 AS lifetime_ms,
       "dns_ms", "tcp_ms", "tls_ms", "upgrade_ms", "connect_ms", coalesce("responses", 0) AS responses,
       "responses" IS NULL AS responses_unreported,
       width_bucket(coalesce("responses", 0), ARRAY[2, 3, 6, 21, 101]) AS carried_bin,
       coalesce("responses", 0) > 0 AS carrying,
       greatest(coalesce("dns_ms", 0) + coalesce("tcp_ms", 0) + coalesce("tls_ms", 0), coalesce("connect_ms", 0)) + coalesce("upgrade_ms", 0) AS handshake_ms
FROM "connections";
--> statement-breakpoint
INSERT INTO "connection_rollups_1m" ("bucket", "service", "transport", connections, dns_ms_sum, dns_count, tcp_ms_sum, tcp_count, tls_ms_sum, tls_count, upgrade_ms_sum, upgrade_count, connect_ms_sum, connect_count, responses, responses_reported, carried_up_to_1, carried_2, carried_3_to_5, carried_6_to_20, carried_21_to_100, carried_over_100, use_opened, use_opened_carrying, use_opened_handshake_ms, use_opened_responses, use_closed, use_closed_carrying, use_closed_handshake_ms, use_closed_responses, use_at_start, use_at_start_carrying, use_at_start_handshake_ms, use_at_start_responses, "lifetime_hist")
SELECT e.bucket, e.service, e.transport, sum(connections), sum(dns_ms_sum), sum(dns_count), sum(tcp_ms_sum), sum(tcp_count), sum(tls_ms_sum), sum(tls_count), sum(upgrade_ms_sum), sum(upgrade_count), sum(connect_ms_sum), sum(connect_count), sum(responses), sum(responses_reported), sum(carried_up_to_1), sum(carried_2), sum(carried_3_to_5), sum(carried_6_to_20), sum(carried_21_to_100), sum(carried_over_100), sum(use_opened), sum(use_opened_carrying), sum(use_opened_handshake_ms), sum(use_opened_responses), sum(use_closed), sum(use_closed_carrying), sum(use_closed_handshake_ms), sum(use_closed_responses), sum(use_at_start), sum(use_at_start_carrying), sum(use_at_start_handshake_ms), sum(use_at_start_responses), coalesce(min(h.hist::text)::jsonb, '{}'::jsonb)
FROM (
  SELECT date_trunc('minute', opened_at, 'UTC') AS bucket, service, transport, 1 AS connections, coalesce(dns_ms, 0) AS dns_ms_sum, (dns_ms IS NOT NULL)::int AS dns_count, coalesce(tcp_ms, 0) AS tcp_ms_sum, (tcp_ms IS NOT NULL)::int AS tcp_count, coalesce(tls_ms, 0) AS tls_ms_sum, (tls_ms IS NOT NULL)::int AS tls_count, coalesce(upgrade_ms, 0) AS upgrade_ms_sum, (upgrade_ms IS NOT NULL)::int AS upgrade_count, coalesce(connect_ms, 0) AS connect_ms_sum, (connect_ms IS NOT NULL)::int AS connect_count, coalesce(responses, 0) AS responses, (NOT responses_unreported)::int AS responses_reported, (carried_bin = 0)::int AS carried_up_to_1, (carried_bin = 1)::int AS carried_2, (carried_bin = 2)::int AS carried_3_to_5, (carried_bin = 3)::int AS carried_6_to_20, (carried_bin = 4)::int AS carried_21_to_100, (carried_bin = 5)::int AS carried_over_100, (closed_at IS NOT NULL)::int AS use_opened, (closed_at IS NOT NULL AND carrying)::int AS use_opened_carrying, CASE WHEN closed_at IS NOT NULL AND carrying THEN handshake_ms ELSE 0 END AS use_opened_handshake_ms, CASE WHEN closed_at IS NOT NULL AND carrying THEN responses ELSE 0 END AS use_opened_responses, 0 AS use_closed, 0 AS use_closed_carrying, 0 AS use_closed_handshake_ms, 0 AS use_closed_responses, 0 AS use_at_start, 0 AS use_at_start_carrying, 0 AS use_at_start_handshake_ms, 0 AS use_at_start_responses
  FROM connection_rollup_sources
  UNION ALL
  SELECT date_trunc('minute', closed_at, 'UTC'), service, transport, 0 AS connections, 0 AS dns_ms_sum, 0 AS dns_count, 0 AS tcp_ms_sum, 0 AS tcp_count, 0 AS tls_ms_sum, 0 AS tls_count, 0 AS upgrade_ms_sum, 0 AS upgrade_count, 0 AS connect_ms_sum, 0 AS connect_count, 0 AS responses, 0 AS responses_reported, 0 AS carried_up_to_1, 0 AS carried_2, 0 AS carried_3_to_5, 0 AS carried_6_to_20, 0 AS carried_21_to_100, 0 AS carried_over_100, 0 AS use_opened, 0 AS use_opened_carrying, 0 AS use_opened_handshake_ms, 0 AS use_opened_responses, (true)::int AS use_closed, (true AND carrying)::int AS use_closed_carrying, CASE WHEN true AND carrying THEN handshake_ms ELSE 0 END AS use_closed_handshake_ms, CASE WHEN true AND carrying THEN responses ELSE 0 END AS use_closed_responses, 0 AS use_at_start, 0 AS use_at_start_carrying, 0 AS use_at_start_handshake_ms, 0 AS use_at_start_responses
  FROM connection_rollup_sources
  WHERE closed_at IS NOT NULL AND date_trunc('hour', closed_at, 'UTC') <= opened_at + interval '31 days'
  UNION ALL
  SELECT hour, service, transport, 0 AS connections, 0 AS dns_ms_sum, 0 AS dns_count, 0 AS tcp_ms_sum, 0 AS tcp_count, 0 AS tls_ms_sum, 0 AS tls_count, 0 AS upgrade_ms_sum, 0 AS upgrade_count, 0 AS connect_ms_sum, 0 AS connect_count, 0 AS responses, 0 AS responses_reported, 0 AS carried_up_to_1, 0 AS carried_2, 0 AS carried_3_to_5, 0 AS carried_6_to_20, 0 AS carried_21_to_100, 0 AS carried_over_100, 0 AS use_opened, 0 AS use_opened_carrying, 0 AS use_opened_handshake_ms, 0 AS use_opened_responses, 0 AS use_closed, 0 AS use_closed_carrying, 0 AS use_closed_handshake_ms, 0 AS use_closed_responses, (true)::int AS use_at_start, (true AND carrying)::int AS use_at_start_carrying, CASE WHEN true AND carrying THEN handshake_ms ELSE 0 END AS use_at_start_handshake_ms, CASE WHEN true AND carrying THEN responses ELSE 0 END AS use_at_start_responses
  FROM connection_rollup_sources,
       generate_series(date_trunc('hour', opened_at, 'UTC') + interval '1 hour',
                       least(date_trunc('hour', closed_at, 'UTC'), opened_at + interval '31 days'), interval '1 hour') AS hour
  WHERE closed_at IS NOT NULL
) e
LEFT JOIN (
  SELECT bucket, service, transport, jsonb_object_agg(key, n) AS hist
  FROM (
    SELECT date_trunc('minute', opened_at, 'UTC') AS bucket, service, transport,
           ceil(ln(greatest(lifetime_ms, 0.001::float8)) / ln(2::float8) * (1 / ln(1 + 2 * 0.01::float8 / (1 - 0.01::float8)) * ln(2::float8)))::int::text AS key,
           count(*) AS n
    FROM connection_rollup_sources WHERE lifetime_ms >= 0
    GROUP BY 1, 2, 3, 4
  ) k GROUP BY 1, 2, 3
) h ON h.bucket = e.bucket AND h.service = e.service AND h.transport = e.transport
GROUP BY e.bucket, e.service, e.transport;
--> statement-breakpoint
INSERT INTO "connection_rollups_1h" ("bucket", "service", "transport", connections, dns_ms_sum, dns_count, tcp_ms_sum, tcp_count, tls_ms_sum, tls_count, upgrade_ms_sum, upgrade_count, connect_ms_sum, connect_count, responses, responses_reported, carried_up_to_1, carried_2, carried_3_to_5, carried_6_to_20, carried_21_to_100, carried_over_100, use_opened, use_opened_carrying, use_opened_handshake_ms, use_opened_responses, use_closed, use_closed_carrying, use_closed_handshake_ms, use_closed_responses, use_at_start, use_at_start_carrying, use_at_start_handshake_ms, use_at_start_responses, "lifetime_hist")
SELECT date_trunc('hour', "bucket", 'UTC'), "service", "transport", sum(connections), sum(dns_ms_sum), sum(dns_count), sum(tcp_ms_sum), sum(tcp_count), sum(tls_ms_sum), sum(tls_count), sum(upgrade_ms_sum), sum(upgrade_count), sum(connect_ms_sum), sum(connect_count), sum(responses), sum(responses_reported), sum(carried_up_to_1), sum(carried_2), sum(carried_3_to_5), sum(carried_6_to_20), sum(carried_21_to_100), sum(carried_over_100), sum(use_opened), sum(use_opened_carrying), sum(use_opened_handshake_ms), sum(use_opened_responses), sum(use_closed), sum(use_closed_carrying), sum(use_closed_handshake_ms), sum(use_closed_responses), sum(use_at_start), sum(use_at_start_carrying), sum(use_at_start_handshake_ms), sum(use_at_start_responses), streamscope_hist_sum("lifetime_hist")
FROM "connection_rollups_1m"
WHERE "bucket" < date_trunc('hour', now(), 'UTC')
GROUP BY 1, 2, 3;
--> statement-breakpoint
DROP TABLE "connection_rollup_sources";
--> statement-breakpoint
ANALYZE "connection_rollups_1m";
--> statement-breakpoint
ANALYZE "connection_rollups_1h";
