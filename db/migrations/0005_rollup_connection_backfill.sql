-- The per-minute connection counters start at zero for minutes written before they
-- existed; fill them from the raw rows still kept, as db/ingest.ts counts them. Minutes
-- whose raw rows are gone stay at zero (their reuse figures read as unknown).
UPDATE "rollups_1m" AS r
SET "connection_responses" = c.connection_responses, "reused_responses" = c.reused_responses
FROM (
  SELECT date_trunc('minute', "start_time", 'UTC') AS bucket, "service",
         coalesce("model", '') AS model, coalesce("transport", '') AS transport,
         count(*) FILTER (WHERE "connection_id" IS NOT NULL) AS connection_responses,
         count(*) FILTER (WHERE "connection_id" IS NOT NULL AND "connection_reused") AS reused_responses
  FROM "responses" GROUP BY 1, 2, 3, 4
) AS c
WHERE r."bucket" = c.bucket AND r."service" = c."service" AND r."model" = c.model AND r."transport" = c.transport;
