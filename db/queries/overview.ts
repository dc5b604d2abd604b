/*
 * The overview: rates and latency percentiles over time, open connections, and headline
 * tiles for the whole range.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client';
import { queryRows } from '../rows';
import { aggregateResponses, NO_PERCENTILES, type Aggregate, type Percentiles } from './aggregate';
import { andConditions, dimensionConditions, filterConditions, percentileSource, RAW_RANGE_LIMIT_MS, rangeSeconds, type DashboardFilter, type PercentileSource } from './filter';

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

const STEPS_SECONDS = [15, 60, 300, 900, 3600, 21_600, 86_400];
const MAX_POINTS = 200;

/** The finest step that keeps a chart under MAX_POINTS; rollups are never finer than a minute. */
export function stepFor(filter: DashboardFilter, source: PercentileSource = percentileSource(filter)): number {
  const seconds = rangeSeconds(filter);
  const candidates = source === 'rollups' ? STEPS_SECONDS.filter((s) => s >= 60) : STEPS_SECONDS;
  return candidates.find((step) => seconds / step <= MAX_POINTS) ?? candidates[candidates.length - 1];
}

/**
 * Distinct connections in use per step. The instrumentation reports a connection when it
 * closes, so a socket still open has no row yet: the responses it carried stand in for it
 * (counted in the step they started), and reported connections count in every step their
 * lifetime overlaps. Connection rows carry service and transport but no model.
 *
 * Only the last RAW_RANGE_LIMIT_MS of responses are scanned, as for raw percentiles: an
 * unreported socket is a recent one, and a week of raw rows is what rollups exist to avoid.
 */
async function connectionsInUse(db: Db, filter: DashboardFilter, firstStep: number, stepSeconds: number): Promise<Map<number, number>> {
  const recent = { ...filter, from: new Date(Math.max(filter.from.getTime(), filter.to.getTime() - RAW_RANGE_LIMIT_MS)) };
  const step = sql`make_interval(secs => ${stepSeconds}::float8)`;
  const to = sql`${filter.to.toISOString()}::timestamptz`;
  const rows = await queryRows<{ time: number; connections: number }>(
    db,
    sql`select (extract(epoch from t) * 1000)::float8 as time, count(distinct connection_id)::float8 as connections
        from (
          select to_timestamp(floor(extract(epoch from start_time) / ${stepSeconds}::float8) * ${stepSeconds}::float8) as t, connection_id
          from responses
          where ${filterConditions(recent, sql`start_time`)} and connection_id is not null
          union all
          select t, c.connection_id
          from generate_series(${new Date(firstStep).toISOString()}::timestamptz, ${to}, ${step}) as t
          join connections c on c.opened_at < least(t + ${step}, ${to}) and (c.closed_at is null or c.closed_at >= t)
          ${andConditions(dimensionConditions(filter, ['service', 'transport']))}
        ) used
        group by t`,
  );
  return new Map(rows.map((row) => [Number(row.time), Number(row.connections)]));
}

function tilesFrom(total: Aggregate | undefined, filter: DashboardFilter, connectionsInUse: number): OverviewTiles {
  const seconds = rangeSeconds(filter);
  return {
    responses: total?.responses ?? 0,
    responsesPerSecond: (total?.responses ?? 0) / seconds,
    tokensPerSecond: (total?.outputTokens ?? 0) / seconds,
    streamTokensPerSecond: total && total.generationSeconds > 0 ? total.generationTokens / total.generationSeconds : null,
    errorRate: total && total.responses > 0 ? total.errors / total.responses : null,
    ttft: total?.ttft ?? NO_PERCENTILES,
    itl: total?.itl ?? NO_PERCENTILES,
    duration: total?.duration ?? NO_PERCENTILES,
    connectionsInUse,
  };
}

export async function overview(db: Db, filter: DashboardFilter, source: PercentileSource = percentileSource(filter)): Promise<Overview> {
  const stepSeconds = stepFor(filter, source);
  const stepMs = stepSeconds * 1000;
  const firstStep = Math.floor(filter.from.getTime() / stepMs) * stepMs;
  const [steps, [total], connections] = await Promise.all([
    aggregateResponses(db, filter, { by: ['time'], stepSeconds, source }),
    aggregateResponses(db, filter, { source }),
    connectionsInUse(db, filter, firstStep, stepSeconds),
  ]);
  const byTime = new Map(steps.map((step) => [step.time, step]));
  const series: OverviewPoint[] = [];
  // Every step gets a point, so quiet periods chart as zero throughput rather than a straight line.
  for (let time = firstStep; time < filter.to.getTime(); time += stepMs) {
    const step = byTime.get(time);
    series.push({
      time,
      responsesPerSecond: (step?.responses ?? 0) / stepSeconds,
      tokensPerSecond: (step?.outputTokens ?? 0) / stepSeconds,
      errorRate: step && step.responses > 0 ? step.errors / step.responses : null,
      ttft: step?.ttft ?? NO_PERCENTILES,
      itl: step?.itl ?? NO_PERCENTILES,
      duration: step?.duration ?? NO_PERCENTILES,
      connectionsInUse: connections.get(time) ?? 0,
    });
  }
  const last = series[series.length - 1];
  return { source, stepSeconds, tiles: tilesFrom(total, filter, last?.connectionsInUse ?? 0), series };
}
