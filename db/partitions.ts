/*
 * Daily partitions of the raw tables (see db/migrations/0002_partition_raw_tables.sql).
 *
 * Partitions are created ahead of the clock so that rows normally route straight to their
 * day; a row for a day without one lands in the DEFAULT partition and is moved out when
 * its day is created. Every collector process runs the maintenance: the work is
 * serialised by an advisory lock, and creating a partition that exists is a no-op.
 */
import { sql } from 'drizzle-orm';
import type { Db, Store } from './client';
import { rollUpHours } from './hourly-rollups';
import { expireOpenConnections } from './open-connections';
import { applyRetention, retentionFromEnv, type RetentionOptions } from './retention';
import { queryRows } from './rows';

export interface PartitionedTable {
  readonly table: 'responses' | 'connections';
  /** The partition key: the span's start. */
  readonly column: 'start_time' | 'opened_at';
}

export const PARTITIONED_TABLES: readonly PartitionedTable[] = [
  { table: 'responses', column: 'start_time' },
  { table: 'connections', column: 'opened_at' },
];

export const DAY_MS = 86_400_000;
/** Any fixed 64-bit number, distinct from the migration lock: serialises partition DDL. */
export const PARTITION_LOCK_ID = 7_163_254_002;

/** Start (UTC midnight, epoch ms) of the day holding `time`. */
export const dayStart = (time: Date | number) => Math.floor(new Date(time).getTime() / DAY_MS) * DAY_MS;

export const defaultPartitionName = (table: string) => `${table}_default`;

/** `responses_p20261127` for the day starting at `day` (epoch ms, UTC). */
export function partitionName(table: string, day: number): string {
  return `${table}_p${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

const PARTITION_SUFFIX = /_p(\d{4})(\d{2})(\d{2})$/;

/** The day (epoch ms) a daily partition's name stands for, or null for any other table. */
export function partitionDay(name: string): number | null {
  const match = PARTITION_SUFFIX.exec(name);
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : null;
}

/** Daily partitions of `table`, by day (epoch ms). */
export async function listPartitions(db: Db, table: string): Promise<Map<number, string>> {
  const rows = await queryRows<{ name: string }>(db, sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${table}::regclass`);
  const days = new Map<number, string>();
  for (const { name } of rows) {
    const day = partitionDay(name);
    if (day !== null) days.set(day, name);
  }
  return days;
}

/** Takes the partition lock for the rest of the transaction `db` runs in. */
export async function lockPartitions(db: Db): Promise<void> {
  await db.execute(sql`select pg_advisory_xact_lock(${PARTITION_LOCK_ID})`);
}

const literal = (day: number) => sql.raw(`'${new Date(day).toISOString()}'`);

/**
 * Creates the partition of one day and moves into it the rows the DEFAULT partition holds
 * for that day (ATTACH refuses while the DEFAULT holds any). The DEFAULT is locked first so
 * no insert can slip a row for that day in between the move and the attach.
 */
async function createPartition(db: Db, { table, column }: PartitionedTable, day: number): Promise<string> {
  const name = partitionName(table, day);
  const [target, parent, fallback, key] = [name, table, defaultPartitionName(table), column].map((n) => sql.identifier(n));
  await db.execute(sql`lock table ${fallback} in access exclusive mode`);
  await db.execute(sql`create table ${target} (like ${parent} including defaults)`);
  await db.execute(sql`with moved as (
      delete from ${fallback} where ${key} >= ${literal(day)} and ${key} < ${literal(day + DAY_MS)} returning *)
    insert into ${target} select * from moved`);
  await db.execute(sql`alter table ${parent} attach partition ${target}
    for values from (${literal(day)}) to (${literal(day + DAY_MS)})`);
  return name;
}

export interface PartitionRange {
  from: Date;
  /** Inclusive: the day holding `to` gets a partition too. */
  to: Date;
}

/** Creates the missing daily partitions of every raw table for the days of [from, to]; returns their names. */
export async function ensurePartitions(store: Store, { from, to }: PartitionRange): Promise<string[]> {
  const days: number[] = [];
  for (let day = dayStart(from); day <= to.getTime(); day += DAY_MS) days.push(day);
  const missing = async (db: Db) => {
    const result: [PartitionedTable, number][] = [];
    for (const table of PARTITIONED_TABLES) {
      const existing = await listPartitions(db, table.table);
      for (const day of days) if (!existing.has(day)) result.push([table, day]);
    }
    return result;
  };
  // The common case — every partition already there — costs two catalogue reads, no lock.
  if ((await missing(store.db)).length === 0) return [];
  return store.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    await lockPartitions(db);
    const created: string[] = [];
    for (const [table, day] of await missing(db)) created.push(await createPartition(db, table, day));
    return created.sort();
  });
}

/** Days (epoch ms) for which the DEFAULT partition of any raw table holds rows at or after `since`. */
export async function daysInDefault(store: Store, since: Date): Promise<number[]> {
  const days = new Set<number>();
  for (const { table, column } of PARTITIONED_TABLES) {
    const [fallback, key] = [defaultPartitionName(table), column].map((n) => sql.identifier(n));
    const rows = await queryRows<{ day: number }>(store.db, sql`
      select distinct (extract(epoch from date_trunc('day', ${key}, 'UTC')) * 1000)::float8 as day
      from ${fallback} where ${key} >= ${since.toISOString()}::timestamptz`);
    for (const { day } of rows) days.add(Number(day));
  }
  return [...days].sort((a, b) => a - b);
}

export interface MaintenanceOptions {
  store: Store;
  /** How often to run; the first run starts at once. */
  intervalMs?: number;
  /** How often, between runs, connections whose open reports stopped are closed (db/open-connections.ts). */
  expiryIntervalMs?: number;
  /** Days of partitions kept ready ahead of today. */
  aheadDays?: number;
  /** Retention applied after each run; false keeps everything. Default: from the environment. */
  retention?: RetentionOptions | false;
  /** Where failures of a run go (the next run retries). Default: console.error. */
  onError?: (error: unknown) => void;
  now?: () => Date;
}

export interface PartitionMaintenance {
  /** Settles when the first run finished (whether it succeeded or reported an error). */
  readonly ready: Promise<void>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export const DEFAULT_MAINTENANCE_INTERVAL_MS = 15 * 60_000;
/** A dead process's sockets count as in use for at most the lease plus this. */
export const DEFAULT_EXPIRY_INTERVAL_MS = 60_000;

/**
 * One maintenance pass: partitions from yesterday to `aheadDays` ahead, partitions for any
 * recent day whose rows sit in the DEFAULT (late or skewed clocks), connections whose open
 * reports stopped (db/open-connections.ts), the hourly rollups of completed hours
 * (db/hourly-rollups.ts), then retention.
 */
export async function maintainPartitions(
  store: Store,
  { aheadDays = 2, retention = retentionFromEnv(), now = new Date() }: { aheadDays?: number; retention?: RetentionOptions | false; now?: Date } = {},
): Promise<void> {
  await ensurePartitions(store, { from: new Date(now.getTime() - DAY_MS), to: new Date(now.getTime() + aheadDays * DAY_MS) });
  // Rows older than the raw retention are about to be deleted: no partition for them.
  const keepSince = retention ? new Date(now.getTime() - retention.rawDays * DAY_MS) : new Date(0);
  for (const day of await daysInDefault(store, keepSince)) await ensurePartitions(store, { from: new Date(day), to: new Date(day) });
  await expireOpenConnections(store, { now });
  await rollUpHours(store, { now });
  if (retention) await applyRetention(store, { ...retention, now });
}

/** Runs maintainPartitions now and every `intervalMs` until stopped. */
export function startPartitionMaintenance(options: MaintenanceOptions): PartitionMaintenance {
  const {
    store,
    intervalMs = DEFAULT_MAINTENANCE_INTERVAL_MS,
    expiryIntervalMs = DEFAULT_EXPIRY_INTERVAL_MS,
    onError = (error) => console.error('partition maintenance failed:', error),
  } = options;
  // Read once, here: a malformed setting fails the process at start, not every run.
  const retention = options.retention ?? retentionFromEnv();
  let running: Promise<void> = Promise.resolve();
  // Runs and expiries queue behind one another: one transaction of maintenance at a time.
  const queue = (step: () => Promise<unknown>) => {
    running = running.then(step).then(() => undefined, onError);
    return running;
  };
  const maintain = () => maintainPartitions(store, { aheadDays: options.aheadDays, retention, now: options.now?.() });
  const ready = queue(maintain);
  const timers = [
    setInterval(() => queue(maintain), intervalMs),
    setInterval(() => queue(() => expireOpenConnections(store, { now: options.now?.() })), expiryIntervalMs),
  ];
  // Maintenance alone must not keep a process alive that is otherwise done.
  for (const timer of timers) timer.unref();
  return {
    ready,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      await running;
    },
  };
}
