/*
 * The hourly rollup tier: each rollups_1h row is the merge of its hour's rows in
 * rollups_1m (counters summed, maxima the largest, histograms merged), so long ranges read
 * 168 rows a week per key instead of 10,080.
 *
 * Late rows: an hour is recomputed whole from its minutes, never patched with deltas.
 * Every write to rollups_1m stamps updated_at with its transaction's start; a run
 * recomputes each completed hour holding a minute stamped since the previous run began
 * (less LATE_COMMIT_MARGIN_MS, for writes that began before that run but committed after
 * it). Recomputing is idempotent, so a second run, or a second collector running it, only
 * repeats the same result; the advisory lock keeps two runs from interleaving.
 */
import { sql } from 'drizzle-orm';
import type { Db, Store } from './client';
import { MAXED, MERGED, SUMMED } from './ingest';
import { queryRows } from './rows';

export const HOUR_MS = 3_600_000;
/** Any fixed 64-bit number, distinct from the migration and partition locks. */
export const HOURLY_ROLLUP_LOCK_ID = 7_163_254_003;
/** A rollup write transaction lasts well under a second; this covers one that stalled. */
export const LATE_COMMIT_MARGIN_MS = 10 * 60_000;

export const hourStart = (time: number) => Math.floor(time / HOUR_MS) * HOUR_MS;

const COLUMNS = [...SUMMED, ...MAXED, ...MERGED];
const aggregateOf = (column: string) =>
  SUMMED.includes(column) ? `sum(${column})` : MAXED.includes(column) ? `max(${column})` : `streamscope_hist_sum(${column})`;

export interface HourlyRollupResult {
  /** Starts (epoch ms) of the hours recomputed. */
  hours: number[];
}

/** Recomputes every completed hour (before `now`'s hour) whose minutes changed since the previous run. */
export async function rollUpHours(store: Store, { now = new Date() }: { now?: Date } = {}): Promise<HourlyRollupResult> {
  return store.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    await db.execute(sql`select pg_advisory_xact_lock(${HOURLY_ROLLUP_LOCK_ID})`);
    // The previous run stamped the hours it wrote with its own start.
    const [{ since }] = await queryRows<{ since: number | null }>(db, sql`
      select (extract(epoch from max(updated_at)) * 1000)::float8 as since from rollups_1h`);
    const changedSince = since === null ? '-infinity' : new Date(Number(since) - LATE_COMMIT_MARGIN_MS).toISOString();
    const currentHour = new Date(hourStart(now.getTime())).toISOString();
    const changed = await queryRows<{ hour: number }>(db, sql`
      select distinct (extract(epoch from date_trunc('hour', bucket, 'UTC')) * 1000)::float8 as hour
      from rollups_1m where updated_at >= ${changedSince}::timestamptz and bucket < ${currentHour}::timestamptz`);
    const hours = changed.map((row) => Number(row.hour)).sort((a, b) => a - b);
    if (hours.length === 0) return { hours };
    const columns = sql.raw(COLUMNS.join(', '));
    const hourList = sql.raw(`array[${hours.map((h) => `'${new Date(h).toISOString()}'::timestamptz`).join(', ')}]`);
    await db.execute(sql`
      insert into rollups_1h (bucket, service, model, transport, ${columns}, updated_at)
      select h.hour, m.service, m.model, m.transport, ${sql.raw(COLUMNS.map(aggregateOf).join(', '))}, now()
      from unnest(${hourList}) as h(hour)
      join rollups_1m m on m.bucket >= h.hour and m.bucket < h.hour + interval '1 hour'
      group by h.hour, m.service, m.model, m.transport
      on conflict (bucket, service, model, transport) do update
      set ${sql.raw([...COLUMNS, 'updated_at'].map((c) => `${c} = excluded.${c}`).join(', '))}`);
    return { hours };
  });
}
