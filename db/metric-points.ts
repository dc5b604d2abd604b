/*
 * What metric points add to the rollups, decided in the transaction that merges them, so
 * a point counts once however many times, and to however many collectors, an exporter
 * sends it, and a merge that fails changes nothing:
 * - a delta point is claimed by its key in merged_metric_points;
 * - a cumulative point is measured against its series' last merged point in metric_series,
 *   whose row the transaction holds locked until it commits.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from './client';
import { queryRows } from './rows';

/**
 * `keys` as rows of one text column, each once and sorted: rows claimed, created and locked
 * in key order, as every transaction does, never leave two waiting on each other in a cycle.
 */
function inKeyOrder(keys: readonly string[]): SQL {
  return sql`select jsonb_array_elements_text(${JSON.stringify([...new Set(keys)].sort())}::jsonb)`;
}

/** Claims `keys`; returns those no transaction claimed before (a key repeated in `keys` once). */
export async function claimMetricPoints(db: Db, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const claimed = await queryRows<{ point_key: string }>(
    db,
    sql`insert into merged_metric_points (point_key) ${inKeyOrder(keys)} on conflict do nothing returning point_key`,
  );
  return new Set(claimed.map((row) => row.point_key));
}

/**
 * Locks the metric_series rows of `keys` (creating missing ones) until the transaction
 * ends, and returns each series' last merged point; null for a series none was merged of.
 */
export async function lockMetricSeries(db: Db, keys: readonly string[]): Promise<Map<string, unknown>> {
  if (keys.length === 0) return new Map();
  const ordered = inKeyOrder(keys);
  await db.execute(sql`insert into metric_series (series_key) ${ordered} on conflict do nothing`);
  const rows = await queryRows<{ series_key: string; last_point: unknown }>(
    db,
    sql`select series_key, last_point from metric_series where series_key in (${ordered}) order by series_key for update`,
  );
  return new Map(rows.map((row) => [row.series_key, row.last_point]));
}

/** Stores each series' last merged point; the rows must be locked by lockMetricSeries in this transaction. */
export async function saveMetricSeries(db: Db, points: ReadonlyMap<string, unknown>): Promise<void> {
  if (points.size === 0) return;
  const rows = JSON.stringify([...points].map(([key, point]) => ({ key, point })));
  await db.execute(sql`update metric_series set last_point = e.value -> 'point', updated_at = now()
    from jsonb_array_elements(${rows}::jsonb) e where series_key = e.value ->> 'key'`);
}
