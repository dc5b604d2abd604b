/*
 * Counts, token sums and TTFT / inter-token / end-to-end percentiles, grouped by any of
 * time step, model and transport. Two readers give the same shape: raw rows with exact
 * exact percentiles (short ranges) and the per-minute rollups with merged histograms (long
 * ranges, within RELATIVE_ACCURACY of exact). Overview and compare both read through here,
 * so the two paths are defined once.
 *
 * Raw percentiles are the exact value at rank q·(n−1), the rule histogramQuantiles applies
 * to buckets, rather than percentile_cont: interpolating between two neighbours that sit
 * further apart than a bucket's width would put the two readers further apart than the
 * histogram's stated error, for reasons that have nothing to do with the rollups.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client';
import { histogramQuantiles } from '../histogram';
import { queryRows } from '../rows';
import type { HistogramBuckets } from '../schema';
import { filterConditions, percentileSource, type DashboardFilter, type PercentileSource } from './filter';

export const QUANTILES = [0.5, 0.9, 0.99] as const;

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export type Dimension = 'time' | 'model' | 'transport';

export interface Aggregate {
  /** Start of the step (epoch ms) when grouped by time. */
  time: number | null;
  /** '' for spans that named no model / transport. */
  model: string | null;
  transport: string | null;
  responses: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  bytes: number;
  /** Output tokens and seconds of generation, for mean per-response tokens/s. */
  generationTokens: number;
  generationSeconds: number;
  ttft: Percentiles;
  itl: Percentiles;
  duration: Percentiles;
}

export interface AggregateOptions {
  by?: readonly Dimension[];
  /** Step of the time dimension; multiples of 60 when reading rollups. */
  stepSeconds?: number;
  /** Defaults to percentileSource(filter). */
  source?: PercentileSource;
}

export const NO_PERCENTILES: Percentiles = { p50: null, p90: null, p99: null };

function toPercentiles(values: readonly (number | null)[] | null | undefined): Percentiles {
  if (!values) return NO_PERCENTILES;
  const [p50, p90, p99] = values.map((v) => (v === null || v === undefined ? null : Number(v)));
  return { p50, p90, p99 };
}

interface KeyRow extends Record<string, unknown> {
  k_time: number | null;
  k_model: string | null;
  k_transport: string | null;
}

function keyColumns(by: readonly Dimension[], timeColumn: SQL, stepSeconds: number): { select: SQL; groupBy: SQL } {
  const time = by.includes('time')
    ? sql`(floor(extract(epoch from ${timeColumn}) / ${stepSeconds}::float8) * ${stepSeconds}::float8 * 1000)::float8`
    : sql`null::float8`;
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

function keyOf(row: KeyRow): string {
  return `${row.k_time}\u0000${row.k_model}\u0000${row.k_transport}`;
}

function sortAggregates(rows: Aggregate[]): Aggregate[] {
  return rows.sort(
    (a, b) => (a.time ?? 0) - (b.time ?? 0) || (a.model ?? '').localeCompare(b.model ?? '') || (a.transport ?? '').localeCompare(b.transport ?? ''),
  );
}

interface SumRow extends KeyRow {
  responses: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  bytes: number;
  generation_tokens: number;
  generation_seconds: number;
}

function sums(row: SumRow): Omit<Aggregate, 'ttft' | 'itl' | 'duration'> {
  return {
    time: row.k_time === null ? null : Number(row.k_time),
    model: row.k_model,
    transport: row.k_transport,
    responses: Number(row.responses),
    errors: Number(row.errors),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    bytes: Number(row.bytes),
    generationTokens: Number(row.generation_tokens),
    generationSeconds: Number(row.generation_seconds),
  };
}

/** Exact quantiles of a column over the group: the value at rank q·(n−1), nulls left out. */
function exactQuantiles(column: SQL): SQL {
  // Identical aggregate calls are computed once per group, so the sort happens once.
  const sorted = sql`(array_agg(${column} order by ${column}) filter (where ${column} is not null))`;
  const n = sql`count(${column})`;
  return sql`array[${sql.join(
    QUANTILES.map((q) => sql`${sorted}[floor(${q}::float8 * (${n} - 1))::int + 1]`),
    sql`, `,
  )}]::float8[]`;
}

async function fromRawRows(db: Db, filter: DashboardFilter, by: readonly Dimension[], stepSeconds: number): Promise<Aggregate[]> {
  const keys = keyColumns(by, sql`start_time`, stepSeconds);
  const where = filterConditions(filter, sql`start_time`);
  // Generation time is TTFT to the end of the stream, as the rollups count it (db/ingest.ts).
  const hasGeneration = sql`output_tokens > 0 and ttft_ms is not null and duration_ms > ttft_ms`;
  const main = queryRows<SumRow & { ttft: number[] | null; duration: number[] | null }>(
    db,
    sql`select ${keys.select},
          count(*)::float8 as responses,
          count(*) filter (where status = 'error')::float8 as errors,
          coalesce(sum(input_tokens), 0)::float8 as input_tokens,
          coalesce(sum(output_tokens), 0)::float8 as output_tokens,
          coalesce(sum(coalesce(bytes_sent, 0) + coalesce(bytes_received, 0)), 0)::float8 as bytes,
          coalesce(sum(output_tokens) filter (where ${hasGeneration}), 0)::float8 as generation_tokens,
          coalesce(sum(duration_ms - ttft_ms) filter (where ${hasGeneration}) / 1000, 0)::float8 as generation_seconds,
          ${exactQuantiles(sql`ttft_ms`)} as ttft,
          ${exactQuantiles(sql`duration_ms`)} as duration
        from responses where ${where} ${keys.groupBy}`,
  );
  // Inter-token gaps are the differences between consecutive arrival offsets.
  const itl = queryRows<KeyRow & { itl: number[] | null }>(
    db,
    sql`select ${keys.select}, ${exactQuantiles(sql`gap_ms`)} as itl
        from (
          select start_time, model, transport,
                 ((o.offset_us - lag(o.offset_us) over (partition by trace_id, span_id order by o.i)) / 1000.0)::float8 as gap_ms
          from responses cross join lateral unnest(token_offsets_us) with ordinality as o(offset_us, i)
          where ${where}
        ) gaps
        where gap_ms is not null ${keys.groupBy}`,
  );
  const [mainRows, itlRows] = await Promise.all([main, itl]);
  const itlByKey = new Map(itlRows.map((row) => [keyOf(row), row.itl]));
  return sortAggregates(
    mainRows
      .filter((row) => Number(row.responses) > 0)
      .map((row) => ({
        ...sums(row),
        ttft: toPercentiles(row.ttft),
        itl: toPercentiles(itlByKey.get(keyOf(row))),
        duration: toPercentiles(row.duration),
      })),
  );
}

async function fromRollups(db: Db, filter: DashboardFilter, by: readonly Dimension[], stepSeconds: number): Promise<Aggregate[]> {
  const keys = keyColumns(by, sql`bucket`, Math.max(60, Math.round(stepSeconds / 60) * 60));
  const rows = await queryRows<SumRow & { ttft_hist: HistogramBuckets; itl_hist: HistogramBuckets; duration_hist: HistogramBuckets }>(
    db,
    sql`select ${keys.select},
          coalesce(sum(responses), 0)::float8 as responses,
          coalesce(sum(errors), 0)::float8 as errors,
          coalesce(sum(input_tokens), 0)::float8 as input_tokens,
          coalesce(sum(output_tokens), 0)::float8 as output_tokens,
          coalesce(sum(bytes_sent + bytes_received), 0)::float8 as bytes,
          coalesce(sum(generation_tokens), 0)::float8 as generation_tokens,
          coalesce(sum(generation_seconds), 0)::float8 as generation_seconds,
          streamscope_hist_sum(ttft_hist) as ttft_hist,
          streamscope_hist_sum(itl_hist) as itl_hist,
          streamscope_hist_sum(duration_hist) as duration_hist
        from rollups_1m where ${filterConditions(filter, sql`bucket`)} ${keys.groupBy}`,
  );
  return sortAggregates(
    rows
      .filter((row) => Number(row.responses) > 0)
      .map((row) => ({
        ...sums(row),
        ttft: toPercentiles(histogramQuantiles(row.ttft_hist, QUANTILES)),
        itl: toPercentiles(histogramQuantiles(row.itl_hist, QUANTILES)),
        duration: toPercentiles(histogramQuantiles(row.duration_hist, QUANTILES)),
      })),
  );
}

/** Aggregates of the filtered responses, one per group; groups without responses are omitted. */
export function aggregateResponses(db: Db, filter: DashboardFilter, options: AggregateOptions = {}): Promise<Aggregate[]> {
  const by = options.by ?? [];
  const stepSeconds = options.stepSeconds ?? 60;
  const source = options.source ?? percentileSource(filter);
  return source === 'raw' ? fromRawRows(db, filter, by, stepSeconds) : fromRollups(db, filter, by, stepSeconds);
}
