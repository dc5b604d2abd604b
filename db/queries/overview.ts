/*
 * The overview: rates and latency percentiles over time, open connections, and headline
 * tiles for the whole range.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client';
import { queryRows } from '../rows';
import { bucketStart, HOUR_MS } from '../time-buckets';
import { aggregateGroupings, NO_PERCENTILES, type Aggregate, type Percentiles } from './aggregate';
import { connectionsInUse, inUseFromRollups, reportedOpen } from './connections-in-use';
import { coveredSpan, filterConditions, percentileSource, rangeSeconds, ratePerSecond, type DashboardFilter, type PercentileSource, type TimeSpan } from './filter';
import { stepStart } from './group-keys';

export interface OverviewPoint {
  /** Start of the step, epoch ms. */
  time: number;
  responsesPerSecond: number;
  tokensPerSecond: number;
  /** Errors / responses, 0..1; null in a step without responses. */
  errorRate: number | null;
  ttft: Percentiles;
  itl: Percentiles;
  duration: Percentiles;
  /** Distinct connections that carried a response or were open during the step. */
  connectionsInUse: number;
}

export interface OverviewTiles {
  responses: number;
  responsesPerSecond: number;
  /** Output tokens per second of wall time, all streams together. */
  tokensPerSecond: number;
  /** Mean generation speed of one stream (first to last output token). */
  streamTokensPerSecond: number | null;
  errorRate: number | null;
  ttft: Percentiles;
  itl: Percentiles;
  duration: Percentiles;
  /** Connections in use in the last step of the range. */
  connectionsInUse: number;
}

export interface Overview {
  source: PercentileSource;
  stepSeconds: number;
  tiles: OverviewTiles;
  series: OverviewPoint[];
}

/** Steps are whole minutes: inter-token percentiles come from per-minute histograms at every range. */
const STEPS_SECONDS = [60, 300, 900, 3600, 21_600, 86_400];
const MAX_POINTS = 200;
/**
 * From this range on, charts step by whole hours so that the series reads the hourly
 * rollups: a day by the minute is 1,440 rows per key to fetch and merge, by the hour 24.
 */
export const HOURLY_STEPS_FROM_MS = 12 * HOUR_MS;

/** The finest step that keeps a chart under MAX_POINTS, in whole hours for long ranges. */
export function stepFor(filter: DashboardFilter): number {
  const seconds = rangeSeconds(filter);
  const candidates = seconds * 1000 >= HOURLY_STEPS_FROM_MS ? STEPS_SECONDS.filter((s) => s % 3600 === 0) : STEPS_SECONDS;
  return candidates.find((step) => seconds / step <= MAX_POINTS) ?? candidates[candidates.length - 1];
}

/**
 * How far back responses stand in for connections not reported yet (still open). Every
 * response of the window is read, so it is kept short: an hour is 60 k rows at 10 M a week.
 */
export const UNREPORTED_WINDOW_MS = 15 * 60_000;

type StepOf = (time: SQL) => SQL;

/**
 * Connections reported (closed or still open) in use per step, from raw rows: counted per
 * (first step, last step) in SQL and spread over their steps here, so no step is joined to
 * the connections.
 */
async function reportedFromRawRows(db: Db, filter: DashboardFilter, stepMs: number, stepOf: StepOf): Promise<Map<number, number>> {
  const toTs = sql`${filter.to.toISOString()}::timestamptz`;
  const rows = await queryRows<{ first: number; last: number; connections: number }>(
    db,
    sql`select ${stepOf(sql`greatest(opened_at, ${filter.from.toISOString()}::timestamptz)`)} as first,
               ${stepOf(sql`least(coalesce(closed_at, ${toTs}), ${toTs} - interval '1 millisecond')`)} as last,
               count(*)::float8 as connections
        from (${connectionsInUse(filter, ['service', 'transport'], sql`opened_at, closed_at`)}) c
        group by 1, 2`,
  );
  const counts = new Map<number, number>();
  for (const row of rows) addOver(counts, Number(row.first), Number(row.last), stepMs, Number(row.connections));
  return counts;
}

/**
 * The same from the connection rollups (connections-in-use.ts): a step holds those in use
 * at the range's first minute plus those opened before the step ends, less those closed
 * before it starts; those reported still open count from the step they opened in on.
 */
async function reportedFromRollups(db: Db, filter: DashboardFilter, stepMs: number, stepOf: StepOf): Promise<Map<number, number>> {
  const [changes, stillOpen] = await Promise.all([
    queryRows<{ bucket: number; opened: number; closed: number }>(
      db,
      sql`select bucket, sum(opened)::float8 as opened, sum(closed)::float8 as closed
          from (${inUseFromRollups(filter, { hours: stepMs % HOUR_MS === 0 })}) c group by bucket`,
    ),
    queryRows<{ first: number; connections: number }>(
      db,
      sql`select ${stepOf(sql`greatest(opened_at, ${filter.from.toISOString()}::timestamptz)`)} as first, count(*)::float8 as connections
          from (${reportedOpen(filter, ['service', 'transport'], sql`opened_at`)}) c group by 1`,
    ),
  ]);
  const sorted = changes.map((row) => ({ bucket: Number(row.bucket), opened: Number(row.opened), closed: Number(row.closed) })).sort((a, b) => a.bucket - b.bucket);
  const counts = new Map<number, number>();
  const lastStep = bucketStart(filter.to.getTime() - 1, stepMs);
  let [opened, closed, nextOpened, nextClosed] = [0, 0, 0, 0];
  for (let time = bucketStart(filter.from.getTime(), stepMs); time <= lastStep; time += stepMs) {
    for (; nextOpened < sorted.length && sorted[nextOpened].bucket < time + stepMs; nextOpened++) opened += sorted[nextOpened].opened;
    for (; nextClosed < sorted.length && sorted[nextClosed].bucket < time; nextClosed++) closed += sorted[nextClosed].closed;
    counts.set(time, opened - closed);
  }
  for (const row of stillOpen) addOver(counts, Number(row.first), lastStep, stepMs, Number(row.connections));
  return counts;
}

/** Adds `n` to every step from `first` to `last`. */
function addOver(counts: Map<number, number>, first: number, last: number, stepMs: number, n: number): void {
  for (let time = first; time <= last; time += stepMs) counts.set(time, (counts.get(time) ?? 0) + n);
}

/**
 * Distinct connections in use per step. The instrumentation reports a connection when it
 * closes and, while it is open, every 30 s after its first response, so a young socket may
 * have no row yet: the responses it carried stand in for it
 * (counted in the step they started), and reported connections count in every step their
 * lifetime overlaps, read from raw rows up to RAW_RANGE_LIMIT_MS and from the connection
 * rollups beyond (`source`). Connections carry service and transport but no model. Only
 * the last UNREPORTED_WINDOW_MS of responses are scanned: an unreported socket is a recent
 * one.
 */
async function connectionsPerStep(db: Db, filter: DashboardFilter, stepSeconds: number, source: PercentileSource): Promise<Map<number, number>> {
  const stepMs = stepSeconds * 1000;
  const from = filter.from.getTime();
  const to = filter.to.getTime();
  const stepOf: StepOf = (time) => stepStart(time, stepSeconds);
  const recent = { ...filter, from: new Date(Math.max(from, to - UNREPORTED_WINDOW_MS)) };
  const [counts, unreported] = await Promise.all([
    (source === 'raw' ? reportedFromRawRows : reportedFromRollups)(db, filter, stepMs, stepOf),
    queryRows<{ time: number; connections: number }>(
      db,
      sql`select time, count(*)::float8 as connections
          from (
            select distinct ${stepOf(sql`start_time`)} as time, connection_id
            from responses
            where ${filterConditions(recent, sql`start_time`)} and connection_id is not null
          ) used
          -- A probe of the connection_id index per connection used: the few hundred
          -- connections of the window, where an anti-join would hash every connection row.
          left join lateral (select 1 as reported from connections c where c.connection_id = used.connection_id limit 1) r on true
          where r.reported is null
          group by time`,
    ),
  ]);
  for (const row of unreported) addOver(counts, Number(row.time), Number(row.time), stepMs, Number(row.connections));
  return counts;
}

function tilesFrom(total: Aggregate | undefined, span: TimeSpan, connectionsInUse: number): OverviewTiles {
  return {
    responses: total?.responses ?? 0,
    responsesPerSecond: ratePerSecond(total?.responses ?? 0, span),
    tokensPerSecond: ratePerSecond(total?.outputTokens ?? 0, span),
    streamTokensPerSecond: total && total.generationSeconds > 0 ? total.generationTokens / total.generationSeconds : null,
    errorRate: total && total.responses > 0 ? total.errors / total.responses : null,
    ttft: total?.ttft ?? NO_PERCENTILES,
    itl: total?.itl ?? NO_PERCENTILES,
    duration: total?.duration ?? NO_PERCENTILES,
    connectionsInUse,
  };
}

export async function overview(db: Db, filter: DashboardFilter, source: PercentileSource = percentileSource(filter), now = Date.now()): Promise<Overview> {
  const stepSeconds = stepFor(filter);
  const stepMs = stepSeconds * 1000;
  const span = coveredSpan(filter, source, now);
  const firstStep = bucketStart(filter.from.getTime(), stepMs);
  const [[steps, [total]], connections] = await Promise.all([
    aggregateGroupings(db, filter, [['time'], []], { stepSeconds, source }),
    connectionsPerStep(db, filter, stepSeconds, source),
  ]);
  const byTime = new Map(steps.map((step) => [step.time, step]));
  const series: OverviewPoint[] = [];
  // Every step gets a point, so quiet periods chart as zero throughput rather than a straight line.
  for (let time = firstStep; time < filter.to.getTime(); time += stepMs) {
    const step = byTime.get(time);
    series.push({
      time,
      responsesPerSecond: ratePerSecond(step?.responses ?? 0, span, time, time + stepMs),
      tokensPerSecond: ratePerSecond(step?.outputTokens ?? 0, span, time, time + stepMs),
      errorRate: step && step.responses > 0 ? step.errors / step.responses : null,
      ttft: step?.ttft ?? NO_PERCENTILES,
      itl: step?.itl ?? NO_PERCENTILES,
      duration: step?.duration ?? NO_PERCENTILES,
      connectionsInUse: connections.get(time) ?? 0,
    });
  }
  const last = series[series.length - 1];
  return { source, stepSeconds, tiles: tilesFrom(total, span, last?.connectionsInUse ?? 0), series };
}
