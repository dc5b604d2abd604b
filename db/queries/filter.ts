/*
 * The filter every dashboard view shares: a time range plus optional service, model and
 * transport. Conditions are rendered as parameterised SQL fragments on unqualified column
 * names, so the same filter applies to a table, a subquery over it, or the rollups.
 */
import { sql, type SQL } from 'drizzle-orm';
import { MINUTE_MS, minuteStart } from '../time-buckets';

export interface DashboardFilter {
  from: Date;
  to: Date;
  service?: string;
  model?: string;
  transport?: string;
}

/**
 * Ranges up to this long read raw rows, with exact TTFT and end-to-end percentiles; longer
 * ones read the rollups, whose percentiles are within RELATIVE_ACCURACY of exact. Exact
 * percentiles of an hour sort every response of it (bench/queries, 10 M responses a week:
 * 83–173 ms per query at 1 h).
 */
export const RAW_RANGE_LIMIT_MS = 15 * 60 * 1000;

export type PercentileSource = 'raw' | 'rollups';

export function percentileSource(filter: DashboardFilter): PercentileSource {
  return filter.to.getTime() - filter.from.getTime() > RAW_RANGE_LIMIT_MS ? 'rollups' : 'raw';
}

export function rangeSeconds(filter: DashboardFilter): number {
  return Math.max(1, (filter.to.getTime() - filter.from.getTime()) / 1000);
}

/** [start, end), epoch ms. */
export interface TimeSpan {
  start: number;
  end: number;
}

/**
 * The time whose responses a range's figures count, which rates divide by: the range itself
 * from raw rows; from the rollups, the whole minutes it touches (its first and last minute
 * are read whole). Either ends at `now` at the latest, since no response has started later:
 * a live range's last step has run only until now, and a rate over the whole step would
 * chart as a drop at the right edge.
 */
export function coveredSpan(filter: DashboardFilter, source: PercentileSource, now = Date.now()): TimeSpan {
  const from = filter.from.getTime();
  const to = filter.to.getTime();
  const start = source === 'raw' ? from : minuteStart(from);
  const end = source === 'raw' ? to : minuteStart(to - 1) + MINUTE_MS;
  return { start, end: Math.max(start, Math.min(end, now)) };
}

/** Events per second over the part of [start, end) that `span` covers; 0 where it covers none. */
export function ratePerSecond(count: number, span: TimeSpan, start = span.start, end = span.end): number {
  const covered = Math.min(end, span.end) - Math.max(start, span.start);
  return covered > 0 ? (count * 1000) / covered : 0;
}

type Dimension = 'service' | 'model' | 'transport';

/** Conditions on the dimensions a table has; connections, for one, carry no model. */
export function dimensionConditions(filter: DashboardFilter, dimensions: readonly Dimension[] = ['service', 'model', 'transport']): SQL[] {
  return dimensions.flatMap((dimension) => (filter[dimension] ? [sql`${sql.identifier(dimension)} = ${filter[dimension]}`] : []));
}

/** `and c1 and c2 …`, or nothing: appends conditions to a clause that already has one. */
export function andConditions(conditions: readonly SQL[]): SQL {
  return sql.join(
    conditions.map((condition) => sql` and ${condition}`),
    sql``,
  );
}

/** The time range on `timeColumn` (half-open, [from, to)) and the dimension conditions, and-ed. */
export function filterConditions(filter: DashboardFilter, timeColumn: SQL, dimensions?: readonly Dimension[]): SQL {
  return sql.join(
    [
      sql`${timeColumn} >= ${filter.from.toISOString()}::timestamptz`,
      sql`${timeColumn} < ${filter.to.toISOString()}::timestamptz`,
      ...dimensionConditions(filter, dimensions),
    ],
    sql` and `,
  );
}

/** Epoch milliseconds of a timestamp column: raw SQL results then carry one type on both drivers. */
export function epochMs(column: SQL): SQL {
  return sql`(extract(epoch from ${column}) * 1000)::float8`;
}
