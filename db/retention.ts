/*
 * Retention: raw rows are kept `rawDays`, rollups (responses' and connections', per minute
 * and per hour) `rollupDays`, so long-range charts outlive the raw data they summarise,
 * and what /v1/metrics needs to count each point once (delta point keys, cumulative
 * series' last points) a day.
 * Raw data goes by dropping whole daily
 * partitions — no DELETE of millions of rows, no table bloat left for vacuum — and only
 * the few rows that sit in the DEFAULT partition are deleted one by one.
 */
import { sql } from 'drizzle-orm';
import type { Db, Store } from './client';
import { ROLLUP_TIERS } from './hourly-rollups';
import { DAY_MS, defaultPartitionName, listPartitions, lockPartitions, PARTITIONED_TABLES } from './partitions';
import { queryRows } from './rows';

export interface RetentionOptions {
  /** Days of raw responses and connections kept. */
  rawDays: number;
  /** Days of rollups kept, per-minute and hourly alike. */
  rollupDays: number;
}

export const DEFAULT_RETENTION: RetentionOptions = { rawDays: 14, rollupDays: 400 };

function positiveNumber(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number of days, not "${text}"`);
  return value;
}

/** STREAMSCOPE_RETENTION_RAW_DAYS (default 14) and STREAMSCOPE_RETENTION_ROLLUP_DAYS (default 400). */
export function retentionFromEnv(env: Record<string, string | undefined> = process.env): RetentionOptions {
  return {
    rawDays: positiveNumber(env, 'STREAMSCOPE_RETENTION_RAW_DAYS', DEFAULT_RETENTION.rawDays),
    rollupDays: positiveNumber(env, 'STREAMSCOPE_RETENTION_ROLLUP_DAYS', DEFAULT_RETENTION.rollupDays),
  };
}

export interface RetentionResult {
  /** Names of the daily partitions dropped. */
  droppedPartitions: string[];
  /** Rows older than the raw cutoff deleted from the DEFAULT partitions. */
  defaultRowsDeleted: number;
  rollupRowsDeleted: number;
  /** Keys of merged delta metric points older than METRIC_STATE_DAYS. */
  mergedMetricPointsDeleted: number;
  /** Cumulative metric series not updated for METRIC_STATE_DAYS. */
  metricSeriesDeleted: number;
}

/**
 * How long what /v1/metrics merged is remembered: delta point keys (exporters retry within
 * minutes) and cumulative series' last points (a live series is exported every interval).
 */
export const METRIC_STATE_DAYS = 1;

async function deleteCount(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  const [{ n }] = await queryRows<{ n: number }>(db, sql`with deleted as (${query} returning 1) select count(*)::int as n from deleted`);
  return n;
}

/**
 * Drops every daily partition that ends at or before now − rawDays (a day is dropped whole
 * once all of it is past the cutoff, so up to one extra day is kept), deletes DEFAULT rows
 * and rollup rows older than their cutoffs.
 */
export async function applyRetention(store: Store, { rawDays, rollupDays, now = new Date() }: RetentionOptions & { now?: Date }): Promise<RetentionResult> {
  const rawCutoff = now.getTime() - rawDays * DAY_MS;
  const rollupCutoff = new Date(now.getTime() - rollupDays * DAY_MS);
  // Dropping a partition locks its parent exclusively; the lock keeps two collectors'
  // maintenance from interleaving DDL on the same tables.
  return store.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    await lockPartitions(db);
    const result: RetentionResult = { droppedPartitions: [], defaultRowsDeleted: 0, rollupRowsDeleted: 0, mergedMetricPointsDeleted: 0, metricSeriesDeleted: 0 };
    for (const { table, column } of PARTITIONED_TABLES) {
      for (const [day, name] of await listPartitions(db, table)) {
        if (day + DAY_MS > rawCutoff) continue;
        await db.execute(sql`drop table ${sql.identifier(name)}`);
        result.droppedPartitions.push(name);
      }
      result.defaultRowsDeleted += await deleteCount(db, sql`delete from ${sql.identifier(defaultPartitionName(table))}
        where ${sql.identifier(column)} < ${new Date(rawCutoff).toISOString()}::timestamptz`);
    }
    for (const table of ROLLUP_TIERS.flatMap((tier) => [tier.minutes, tier.hours, ...(tier.hourTotals ? [tier.hourTotals] : [])])) {
      result.rollupRowsDeleted += await deleteCount(db, sql`delete from ${sql.identifier(table)} where bucket < ${rollupCutoff.toISOString()}::timestamptz`);
    }
    const metricCutoff = new Date(now.getTime() - METRIC_STATE_DAYS * DAY_MS).toISOString();
    result.mergedMetricPointsDeleted = await deleteCount(db, sql`delete from merged_metric_points where merged_at < ${metricCutoff}::timestamptz`);
    result.metricSeriesDeleted = await deleteCount(db, sql`delete from metric_series where updated_at < ${metricCutoff}::timestamptz`);
    result.droppedPartitions.sort();
    return result;
  });
}
