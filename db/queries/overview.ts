/*
 * The overview: rates and latency percentiles over time, open connections, and headline
 * tiles for the whole range.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client';
import { queryRows } from '../rows';
import { aggregateResponses, NO_PERCENTILES, type Aggregate, type Percentiles } from './aggregate';
import { andConditions, dimensionConditions, percentileSource, rangeSeconds, type DashboardFilter, type PercentileSource } from './filter';

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
  openConnections: number;
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
  /** Connections open at the end of the range. */
  openConnections: number;
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

async function openConnectionSeries(db: Db, filter: DashboardFilter, firstStep: number, stepSeconds: number): Promise<Map<number, number>> {
  // A connection counts in every step it overlaps; connections carry service and transport, not model.
  const rows = await queryRows<{ time: number; open: number }>(
    db,
    sql`select (extract(epoch from t) * 1000)::float8 as time, count(c.connection_id)::float8 as open
        from generate_series(${new Date(firstStep).toISOString()}::timestamptz, ${filter.to.toISOString()}::timestamptz,
                             make_interval(secs => ${stepSeconds}::float8)) as t
        left join connections c
          on c.opened_at < least(t + make_interval(secs => ${stepSeconds}::float8), ${filter.to.toISOString()}::timestamptz)
         and (c.closed_at is null or c.closed_at >= t)
         ${andConditions(dimensionConditions(filter, ['service', 'transport']))}
        group by t`,
  );
  return new Map(rows.map((row) => [Number(row.time), Number(row.open)]));
}

async function openConnectionsAt(db: Db, filter: DashboardFilter): Promise<number> {
  const at = filter.to.toISOString();
  const [row] = await queryRows<{ open: number }>(
    db,
    sql`select count(*)::float8 as open from connections
        where opened_at <= ${at}::timestamptz and (closed_at is null or closed_at > ${at}::timestamptz)
        ${andConditions(dimensionConditions(filter, ['service', 'transport']))}`,
  );
  return Number(row?.open ?? 0);
}

function tilesFrom(total: Aggregate | undefined, filter: DashboardFilter, openConnections: number): OverviewTiles {
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
    openConnections,
  };
}

export async function overview(db: Db, filter: DashboardFilter, source: PercentileSource = percentileSource(filter)): Promise<Overview> {
  const stepSeconds = stepFor(filter, source);
  const stepMs = stepSeconds * 1000;
  const firstStep = Math.floor(filter.from.getTime() / stepMs) * stepMs;
  const [steps, [total], open, openNow] = await Promise.all([
    aggregateResponses(db, filter, { by: ['time'], stepSeconds, source }),
    aggregateResponses(db, filter, { source }),
    openConnectionSeries(db, filter, firstStep, stepSeconds),
    openConnectionsAt(db, filter),
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
      openConnections: open.get(time) ?? 0,
    });
  }
  return { source, stepSeconds, tiles: tilesFrom(total, filter, openNow), series };
}
