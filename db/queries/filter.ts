/*
 * The filter every dashboard view shares: a time range plus optional service, model and
 * transport. Conditions are rendered as parameterised SQL fragments on unqualified column
 * names, so the same filter applies to a table, a subquery over it, or the rollups.
 */
import { sql, type SQL } from 'drizzle-orm';

export interface DashboardFilter {
  from: Date;
  to: Date;
  service?: string;
  model?: string;
  transport?: string;
}

/** Ranges up to this long read raw rows; longer ones read the per-minute rollups. */
export const RAW_RANGE_LIMIT_MS = 60 * 60 * 1000;

export type PercentileSource = 'raw' | 'rollups';

export function percentileSource(filter: DashboardFilter): PercentileSource {
  return filter.to.getTime() - filter.from.getTime() > RAW_RANGE_LIMIT_MS ? 'rollups' : 'raw';
}

export function rangeSeconds(filter: DashboardFilter): number {
  return Math.max(1, (filter.to.getTime() - filter.from.getTime()) / 1000);
}

/**
 * `timeColumn` names the row's timestamp; `dimensions` false leaves out service/model/
 * transport (tables such as connections that lack some of them pass their own subset).
 */
export function filterConditions(
  filter: DashboardFilter,
  timeColumn: SQL,
  dimensions: readonly ('service' | 'model' | 'transport')[] = ['service', 'model', 'transport'],
): SQL {
  const conditions = [sql`${timeColumn} >= ${filter.from.toISOString()}::timestamptz`, sql`${timeColumn} < ${filter.to.toISOString()}::timestamptz`];
  if (filter.service && dimensions.includes('service')) conditions.push(sql`service = ${filter.service}`);
  if (filter.model && dimensions.includes('model')) conditions.push(sql`model = ${filter.model}`);
  if (filter.transport && dimensions.includes('transport')) conditions.push(sql`transport = ${filter.transport}`);
  return sql.join(conditions, sql` and `);
}

/** Epoch milliseconds of a timestamp column: raw SQL results then carry one type on both drivers. */
export function epochMs(column: SQL): SQL {
  return sql`(extract(epoch from ${column}) * 1000)::float8`;
}
