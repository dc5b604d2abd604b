/*
 * Counts, token sums and TTFT / inter-token / end-to-end percentiles, grouped by any of
 * time step, model and transport. Two readers give the same shape: raw rows with exact
 * TTFT and end-to-end percentiles (short ranges) and the rollups with merged histograms
 * (long ranges, within RELATIVE_ACCURACY of exact). Inter-token latency comes from the
 * rollups' histograms on both: exact gaps of an hour are millions of values to sort
 * (bench/queries: 4.7–7.6 s at 10 M responses a week). Overview and compare both read
 * through here, so the two paths are defined once.
 *
 * Raw percentiles are the exact value at rank q·(n−1), the rule quantileRank
 * (db/histogram.ts) applies to buckets, rather than percentile_cont: interpolating between
 * two neighbours that sit further apart than a bucket's width would put the two readers
 * further apart than the histogram's stated error, for reasons that have nothing to do with
 * the rollups.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client';
import { bucketStart, HOUR_MS, minuteStart } from '../time-buckets';
import { histogramQuantiles, histogramRanks, quantileRank } from '../histogram';
import { queryRows } from '../rows';
import { CONFIDENCE_Z, interval, quantileRanks, type Interval } from './confidence';
import { filterConditions, percentileSource, type DashboardFilter, type PercentileSource } from './filter';
import { DIMENSIONS, keyColumns, keyOf, type Dimension, type KeyRow } from './group-keys';
import { countersOf, mergeRecords, readRollups, type CounterRow, type Counters, type Counts, type RollupGroup, type RollupRecord, type RollupSums } from './rollup-rows';

export type { Dimension } from './group-keys';

export const QUANTILES = [0.5, 0.9, 0.99] as const;

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** The 95 % confidence interval of each percentile (confidence.ts); null without values. */
export interface PercentileIntervals {
  p50: Interval | null;
  p90: Interval | null;
  p99: Interval | null;
}

export interface Aggregate extends Counters {
  /** Start of the step (epoch ms) when grouped by time. */
  time: number | null;
  /** '' for spans that named no model / transport. */
  model: string | null;
  transport: string | null;
  ttft: Percentiles;
  itl: Percentiles;
  duration: Percentiles;
  /** Where asked for (AggregateOptions.intervals). */
  intervals?: AggregateIntervals;
}

export interface AggregateIntervals {
  ttft: PercentileIntervals;
  itl: PercentileIntervals;
  duration: PercentileIntervals;
}

export interface AggregateOptions {
  by?: readonly Dimension[];
  /** Step of the time dimension; a multiple of 60. */
  stepSeconds?: number;
  /** Defaults to percentileSource(filter). */
  source?: PercentileSource;
  /** The percentiles' confidence intervals too, for Compare; the Overview's series need none. */
  intervals?: boolean;
}

export const NO_PERCENTILES: Percentiles = { p50: null, p90: null, p99: null };

function toPercentiles(values: readonly (number | null)[] | null | undefined): Percentiles {
  if (!values) return NO_PERCENTILES;
  const [p50, p90, p99] = values.map((v) => (v === null || v === undefined ? null : Number(v)));
  return { p50, p90, p99 };
}

const NO_INTERVALS: PercentileIntervals = { p50: null, p90: null, p99: null };

/** Intervals of n values from the values at their bounding ranks, low and high for each of QUANTILES in turn. */
function toIntervals(n: number, bounds: readonly (number | null)[]): PercentileIntervals {
  if (!(n > 0)) return NO_INTERVALS;
  const value = (i: number) => (bounds[i] === null || bounds[i] === undefined ? null : Number(bounds[i]));
  const [p50, p90, p99] = QUANTILES.map((_, i) => interval(value(2 * i), value(2 * i + 1)));
  return { p50, p90, p99 };
}

/** Intervals as exactQuantileIntervals returns them, the count first; undefined where not asked for. */
const sqlIntervals = (values: readonly (number | null)[] | undefined) => values && toIntervals(Number(values[0]), values.slice(1));

/** An aggregate's intervals field: all three where they were asked for, none otherwise. */
function intervalsField(ttft?: PercentileIntervals, itl?: PercentileIntervals, duration?: PercentileIntervals): Pick<Aggregate, 'intervals'> {
  return ttft && itl && duration ? { intervals: { ttft, itl, duration } } : {};
}

function sortAggregates(rows: Aggregate[]): Aggregate[] {
  return rows.sort(
    (a, b) => (a.time ?? 0) - (b.time ?? 0) || (a.model ?? '').localeCompare(b.model ?? '') || (a.transport ?? '').localeCompare(b.transport ?? ''),
  );
}

type SumRow = KeyRow & CounterRow;

function sums(row: SumRow): Omit<Aggregate, 'ttft' | 'itl' | 'duration'> {
  return { time: row.k_time === null ? null : Number(row.k_time), model: row.k_model, transport: row.k_transport, ...countersOf(row) };
}

/** The sorted non-null values of a column over the group and their count. */
function sortedValues(column: SQL): { sorted: SQL; n: SQL } {
  // Identical aggregate calls are computed once per group, so the sort happens once.
  return { sorted: sql`(array_agg(${column} order by ${column}) filter (where ${column} is not null))`, n: sql`count(${column})` };
}

/** Exact quantiles of a column over the group: the value at rank q·(n−1), nulls left out. */
export function exactQuantiles(column: SQL): SQL {
  const { sorted, n } = sortedValues(column);
  return sql`array[${sql.join(
    QUANTILES.map((q) => sql`${sorted}[floor(${q}::float8 * (${n} - 1))::int + 1]`),
    sql`, `,
  )}]::float8[]`;
}

/**
 * The count of a column's values over the group, then the values bounding each exact
 * quantile's confidence interval at the ranks quantileRanks gives (null where open): low and
 * high for each of QUANTILES.
 */
function exactQuantileIntervals(column: SQL): SQL {
  const { sorted, n } = sortedValues(column);
  const spread = (q: number) => sql`${CONFIDENCE_Z}::float8 * sqrt(${n} * ${q * (1 - q)}::float8)`;
  const rank = (q: number, side: 'low' | 'high') =>
    side === 'low' ? sql`floor(${n} * ${q}::float8 - ${spread(q)})::int` : sql`ceil(${n} * ${q}::float8 + ${spread(q)})::int`;
  const bound = (q: number, side: 'low' | 'high') => sql`case when ${rank(q, side)} between 1 and ${n} then ${sorted}[${rank(q, side)}] end`;
  return sql`array[${n}, ${sql.join(
    QUANTILES.flatMap((q) => [bound(q, 'low'), bound(q, 'high')]),
    sql`, `,
  )}]::float8[]`;
}

/** The group key of a rollup record, shaped like keyOf's of a SQL row. */
function recordKey(record: RollupSums, by: readonly Dimension[], stepMs: number): KeyRow {
  return {
    k_time: by.includes('time') ? bucketStart(record.bucket, stepMs) : null,
    k_model: by.includes('model') ? record.model : null,
    k_transport: by.includes('transport') ? record.transport : null,
  };
}

/**
 * The percentiles of a histogram and, where asked for, their intervals, its buckets sorted
 * once. `samples`: how many independent values it holds, where fewer than its count.
 * Inter-token gaps are not independent: a stream's gaps rise and fall together, so each
 * response counts once (at most: one with a single token has no gap), and the interval
 * ranks on that many values are scaled onto the histogram's.
 */
function distributionOf(counts: Counts, intervals: boolean, samples?: number): { percentiles: Percentiles; intervals?: PercentileIntervals } {
  if (!intervals) return { percentiles: toPercentiles(histogramQuantiles(counts, QUANTILES)) };
  let n = 0;
  const values = histogramRanks(counts, (total) => {
    n = Math.min(samples ?? total, total);
    const scale = n > 1 ? (total - 1) / (n - 1) : 1;
    const bounds = QUANTILES.flatMap((q) => (quantileRanks(q, n) ?? [null, null]).map((rank) => (rank === null ? null : rank * scale)));
    return [...QUANTILES.map((q) => quantileRank(q, total)), ...bounds];
  });
  return { percentiles: toPercentiles(values.slice(0, QUANTILES.length)), intervals: toIntervals(n, values.slice(QUANTILES.length)) };
}

async function fromRawRows(
  db: Db,
  filter: DashboardFilter,
  { by, stepSeconds, intervals }: { by: readonly Dimension[]; stepSeconds: number; intervals: boolean },
  itl: Promise<Map<string, Counts>>,
): Promise<Aggregate[]> {
  const keys = keyColumns(by, sql`start_time`, stepSeconds);
  // Generation time is TTFT to the end of the stream, as the rollups count it (db/ingest.ts).
  const hasGeneration = sql`output_tokens > 0 and ttft_ms is not null and duration_ms > ttft_ms`;
  const query = queryRows<SumRow & { ttft: number[] | null; duration: number[] | null; ttft_interval?: (number | null)[]; duration_interval?: (number | null)[] }>(
    db,
    sql`select ${keys.select},
          count(*)::float8 as responses,
          count(*) filter (where status = 'error')::float8 as errors,
          coalesce(sum(input_tokens), 0)::float8 as input_tokens,
          coalesce(sum(output_tokens), 0)::float8 as output_tokens,
          coalesce(sum(coalesce(bytes_sent, 0) + coalesce(bytes_received, 0)), 0)::float8 as bytes,
          coalesce(sum(output_tokens) filter (where ${hasGeneration}), 0)::float8 as generation_tokens,
          coalesce(sum(duration_ms - ttft_ms) filter (where ${hasGeneration}) / 1000, 0)::float8 as generation_seconds,
          count(connection_id)::float8 as connection_responses,
          count(connection_id) filter (where connection_reused)::float8 as reused_responses,
          ${exactQuantiles(sql`ttft_ms`)} as ttft,
          ${exactQuantiles(sql`duration_ms`)} as duration
          ${intervals ? sql`, ${exactQuantileIntervals(sql`ttft_ms`)} as ttft_interval, ${exactQuantileIntervals(sql`duration_ms`)} as duration_interval` : sql``}
        from responses where ${filterConditions(filter, sql`start_time`)} ${keys.groupBy}`,
  );
  const [rows, itlByKey] = await Promise.all([query, itl]);
  return sortAggregates(
    rows
      .filter((row) => Number(row.responses) > 0)
      .map((row) => {
        const itl = distributionOf(itlByKey.get(keyOf(row)) ?? new Map(), intervals, Number(row.responses));
        return {
          ...sums(row),
          ttft: toPercentiles(row.ttft),
          itl: itl.percentiles,
          duration: toPercentiles(row.duration),
          ...intervalsField(sqlIntervals(row.ttft_interval), itl.intervals, sqlIntervals(row.duration_interval)),
        };
      }),
  );
}

function mergeBy(records: readonly (RollupRecord | RollupGroup)[], by: readonly Dimension[], stepMs: number): Map<string, RollupGroup> {
  return mergeRecords(records, (record) => keyOf(recordKey(record, by, stepMs)));
}

function fromGroups(records: readonly RollupGroup[], by: readonly Dimension[], stepMs: number, intervals: boolean): Aggregate[] {
  const groups = mergeBy(records, by, stepMs);
  const aggregates: Aggregate[] = [];
  for (const group of groups.values()) {
    if (group.responses <= 0) continue;
    const key = recordKey(group, by, stepMs);
    const { bucket: _bucket, model: _model, transport: _transport, ttftHist, itlHist, durationHist, ...counters } = group;
    const [ttft, itl, duration] = [distributionOf(ttftHist, intervals), distributionOf(itlHist, intervals, counters.responses), distributionOf(durationHist, intervals)];
    aggregates.push({
      time: key.k_time,
      model: key.k_model,
      transport: key.k_transport,
      ...counters,
      ttft: ttft.percentiles,
      itl: itl.percentiles,
      duration: duration.percentiles,
      ...intervalsField(ttft.intervals, itl.intervals, duration.intervals),
    });
  }
  return sortAggregates(aggregates);
}

/**
 * Aggregates of the filtered responses for several groupings at once, reading the rollups
 * once for all of them; groups without responses are omitted.
 */
export async function aggregateGroupings(
  db: Db,
  filter: DashboardFilter,
  groupings: readonly (readonly Dimension[])[],
  { stepSeconds = 60, source = percentileSource(filter), intervals = false }: Omit<AggregateOptions, 'by'> = {},
): Promise<Aggregate[][]> {
  const stepMs = stepSeconds * 1000;
  // Read once, grouped by every dimension any grouping uses; each grouping then merges
  // those few groups: the overview's total merges 168 hours of a week, not 4,000 rows.
  const finest = DIMENSIONS.filter((dimension) => groupings.some((by) => by.includes(dimension)));
  if (source === 'rollups') {
    // An hour row falls whole into a group unless the groups are finer than an hour.
    const hours = stepMs % HOUR_MS === 0 || !finest.includes('time');
    // Two reads of half the range each, split where a step (or an hour) begins: Postgres
    // groups each half within its memory for hashing (a week's histogram texts, 7 MB, went
    // past the default 8 MB and spilled to disk), the halves run on two connections, and Node
    // merges the first while Postgres still reads the second.
    const align = finest.includes('time') ? stepMs : HOUR_MS;
    const middle = bucketStart((filter.from.getTime() + filter.to.getTime()) / 2, align);
    const halves = middle > filter.from.getTime() ? [{ ...filter, to: new Date(middle) }, { ...filter, from: new Date(middle) }] : [filter];
    const read = await Promise.all(halves.map(async (half) => mergeBy(await readRollups(db, half, { hours, by: finest, stepMs }), finest, stepMs)));
    const groups = read.flatMap((merged) => [...merged.values()]);
    return groupings.map((by) => fromGroups(groups, by, stepMs, intervals));
  }
  // The minutes the range touches: its first minute may start before the range.
  const minutes = { ...filter, from: new Date(minuteStart(filter.from.getTime())) };
  const records = readRollups(db, minutes, { hours: false, by: finest, stepMs });
  const itlBy = async (by: readonly Dimension[]) => new Map([...mergeBy(await records, by, stepMs)].map(([key, group]) => [key, group.itlHist]));
  return Promise.all(groupings.map((by) => fromRawRows(db, filter, { by, stepSeconds, intervals }, itlBy(by))));
}

/** Aggregates of the filtered responses, one per group; groups without responses are omitted. */
export async function aggregateResponses(db: Db, filter: DashboardFilter, options: AggregateOptions = {}): Promise<Aggregate[]> {
  const [aggregates] = await aggregateGroupings(db, filter, [options.by ?? []], options);
  return aggregates;
}
