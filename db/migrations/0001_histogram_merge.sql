-- Merges two sparse log-bucketed histograms (bucket key -> count) by adding counts per key.
-- Used by rollup upserts so concurrent writers to the same minute add, never overwrite.
CREATE OR REPLACE FUNCTION streamscope_hist_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb) FROM (
    SELECT k, sum(v::bigint) AS n FROM (
      SELECT key AS k, value AS v FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
      UNION ALL
      SELECT key, value FROM jsonb_each_text(coalesce(b, '{}'::jsonb))
    ) s GROUP BY k
  ) t
$$;
--> statement-breakpoint
CREATE OR REPLACE AGGREGATE streamscope_hist_sum(jsonb) (
  SFUNC = streamscope_hist_merge,
  STYPE = jsonb,
  INITCOND = '{}'
);
