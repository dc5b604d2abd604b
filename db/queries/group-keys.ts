/*
 * The keys aggregates are grouped by (time step, model, transport), rendered in SQL the same
 * way for raw rows and for rollup rows, so both readers put a response in the same group.
 */
import { sql, type SQL } from 'drizzle-orm';

export const DIMENSIONS = ['time', 'model', 'transport'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** A group's key as SQL returns it; null for a dimension the grouping leaves out. */
export interface KeyRow extends Record<string, unknown> {
  k_time: number | null;
  k_model: string | null;
  k_transport: string | null;
}

/** Start (epoch ms) of the step of `stepSeconds` holding `time`, in SQL: every chart step is cut by this. */
export function stepStart(time: SQL, stepSeconds: number): SQL {
  return sql`(floor(extract(epoch from ${time}) / ${stepSeconds}::float8) * ${stepSeconds}::float8 * 1000)::float8`;
}

/** `k_time, k_model, k_transport` of `timeColumn`'s step and the `group by` of the dimensions in `by`. */
export function keyColumns(by: readonly Dimension[], timeColumn: SQL, stepSeconds: number): { select: SQL; groupBy: SQL } {
  const time = by.includes('time') ? stepStart(timeColumn, stepSeconds) : sql`null::float8`;
  const model = by.includes('model') ? sql`coalesce(model, '')` : sql`null::text`;
  const transport = by.includes('transport') ? sql`coalesce(transport, '')` : sql`null::text`;
  const grouped = [by.includes('time') && sql`k_time`, by.includes('model') && sql`k_model`, by.includes('transport') && sql`k_transport`].filter(
    (k): k is SQL => k !== false,
  );
  return {
    select: sql`${time} as k_time, ${model} as k_model, ${transport} as k_transport`,
    groupBy: grouped.length ? sql`group by ${sql.join(grouped, sql`, `)}` : sql``,
  };
}

export function keyOf(row: KeyRow): string {
  return `${row.k_time}\u0000${row.k_model}\u0000${row.k_transport}`;
}
