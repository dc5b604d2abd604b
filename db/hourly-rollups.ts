/*
 * The hourly rollup tiers: each rollups_1h row is the merge of its hour's rows in
 * rollups_1m (counters summed, maxima the largest, histograms merged), and likewise
 * connection_rollups_1h of connection_rollups_1m, so long ranges read 168 rows a week per
 * key instead of 10,080. rollups_1h_totals merges each hour's rows of rollups_1h into one,
 * in the same transaction, for reads of every key at once.
 *
 * Late rows: an hour is recomputed whole from its minutes, never patched with deltas.
 * Every write to a minute tier stamps updated_at with its transaction's start; a run
 * recomputes each completed hour holding a minute stamped since the previous run began
 * (less LATE_COMMIT_MARGIN_MS, for writes that began before that run but committed after
 * it). Recomputing is idempotent, so a second run, or a second collector running it, only
 * repeats the same result; the advisory lock keeps two runs from interleaving.
 */
import { sql } from 'drizzle-orm';
import type { Db, Store } from './client';
import { CONNECTION_ROLLUPS } from './connection-rollups';
import { RESPONSE_ROLLUPS, type RollupTier } from './ingest';
import { queryRows } from './rows';
import { hourStart } from './time-buckets';

/** Any fixed 64-bit number, distinct from the migration and partition locks. */
export const HOURLY_ROLLUP_LOCK_ID = 7_163_254_003;
/** A rollup write transaction lasts well under a second; this covers one that stalled. */
export const LATE_COMMIT_MARGIN_MS = 10 * 60_000;


/** Every tier the job rolls up: response rollups and connection rollups. */
export const ROLLUP_TIERS: readonly RollupTier<never>[] = [RESPONSE_ROLLUPS, CONNECTION_ROLLUPS];

export interface HourlyRollupResult {
  /** Starts (epoch ms) of the hours recomputed, in any tier. */
  hours: number[];
}

/** A tier's merged columns, the SQL that merges a group of rows into one, and the update that replaces a row with it. */
function mergeSql(tier: RollupTier<never>) {
  const columns = [...tier.summed, ...tier.maxed, ...tier.merged];
  // The hours' histograms may be json, which streamscope_hist_sum reads as jsonb.
  const aggregateOf = (column: string) =>
    tier.summed.includes(column) ? `sum(${column})` : tier.maxed.includes(column) ? `max(${column})` : `streamscope_hist_sum(${column}::jsonb)`;
  return {
    columns: sql.raw(columns.join(', ')),
    aggregates: sql.raw(columns.map(aggregateOf).join(', ')),
    replace: sql.raw([...columns, 'updated_at'].map((c) => `${c} = excluded.${c}`).join(', ')),
  };
}

/** Recomputes one tier's changed hours; returns them. */
async function rollUpTier(db: Db, tier: RollupTier<never>, now: Date): Promise<number[]> {
  const [minutes, hoursTable] = [tier.minutes, tier.hours].map((name) => sql.identifier(name));
  // The previous run stamped the hours it wrote with its own start.
  const [{ since }] = await queryRows<{ since: number | null }>(db, sql`
    select (extract(epoch from max(updated_at)) * 1000)::float8 as since from ${hoursTable}`);
  const changedSince = since === null ? '-infinity' : new Date(Number(since) - LATE_COMMIT_MARGIN_MS).toISOString();
  const currentHour = new Date(hourStart(now.getTime())).toISOString();
  const changed = await queryRows<{ hour: number }>(db, sql`
    select distinct (extract(epoch from date_trunc('hour', bucket, 'UTC')) * 1000)::float8 as hour
    from ${minutes} where updated_at >= ${changedSince}::timestamptz and bucket < ${currentHour}::timestamptz`);
  const hours = changed.map((row) => Number(row.hour)).sort((a, b) => a - b);
  if (hours.length === 0) return hours;
  const { columns, aggregates, replace } = mergeSql(tier);
  const keys = sql.raw(tier.keys.join(', '));
  const keysOfMinutes = sql.raw(tier.keys.map((key) => `m.${key}`).join(', '));
  const hourList = sql.raw(`array[${hours.map((h) => `'${new Date(h).toISOString()}'::timestamptz`).join(', ')}]`);
  await db.execute(sql`
    insert into ${hoursTable} (bucket, ${keys}, ${columns}, updated_at)
    select h.hour, ${keysOfMinutes}, ${aggregates}, now()
    from unnest(${hourList}) as h(hour)
    join ${minutes} m on m.bucket >= h.hour and m.bucket < h.hour + interval '1 hour'
    group by h.hour, ${keysOfMinutes}
    on conflict (bucket, ${keys}) do update set ${replace}`);
  return hours;
}

/**
 * Recomputes the totals of every hour with a row written since the totals last were: those
 * of this run, and any a collector on code from before the totals (a rolling upgrade)
 * recomputed. Runs take the same lock, so none commits between another's reading and writing.
 */
async function totalHours(db: Db, tier: RollupTier<never>, totalsTable: string): Promise<void> {
  const [hoursTable, totals] = [tier.hours, totalsTable].map((name) => sql.identifier(name));
  const { columns, aggregates, replace } = mergeSql(tier);
  await db.execute(sql`
    insert into ${totals} (bucket, ${columns}, updated_at)
    select bucket, ${aggregates}, now() from ${hoursTable}
    where bucket in (select bucket from ${hoursTable} where updated_at > (select coalesce(max(updated_at), '-infinity') from ${totals}))
    group by bucket
    on conflict (bucket) do update set ${replace}`);
}

/** Recomputes every completed hour (before `now`'s hour) whose minutes changed since the previous run, in every tier. */
export async function rollUpHours(store: Store, { now = new Date() }: { now?: Date } = {}): Promise<HourlyRollupResult> {
  return store.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    await db.execute(sql`select pg_advisory_xact_lock(${HOURLY_ROLLUP_LOCK_ID})`);
    const hours = new Set<number>();
    for (const tier of ROLLUP_TIERS) {
      for (const hour of await rollUpTier(db, tier, now)) hours.add(hour);
      if (tier.hourTotals) await totalHours(db, tier, tier.hourTotals);
    }
    return { hours: [...hours].sort((a, b) => a - b) };
  });
}
