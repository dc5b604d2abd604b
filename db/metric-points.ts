/*
 * Which delta metric points are new: each is claimed by its key in merged_metric_points,
 * in the transaction that merges it, so a point counts once however many times and to
 * however many collectors an exporter sends it, and a merge that fails claims nothing.
 */
import { sql } from 'drizzle-orm';
import type { Db } from './client';
import { queryRows } from './rows';

/** Claims `keys`; returns those no transaction claimed before (a key repeated in `keys` once). */
export async function claimMetricPoints(db: Db, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const literal = `{${keys.map((key) => `"${key}"`).join(',')}}`;
  const claimed = await queryRows<{ point_key: string }>(
    db,
    sql`insert into merged_metric_points (point_key) select unnest(${literal}::text[]) on conflict do nothing returning point_key`,
  );
  return new Set(claimed.map((row) => row.point_key));
}
