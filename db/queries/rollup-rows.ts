/*
 * Reading the rollups for a range: whole hours from rollups_1h where the hourly job has
 * rolled them, the ragged ends (and any hour not rolled yet) from rollups_1m. Postgres sums
 * the counters of each group a read asks for and concatenates its histograms' text (the
 * hours store theirs as json, text as written, db/schema.ts);
 * they are added up here, in JavaScript: the SQL aggregate streamscope_hist_sum rebuilds a
 * jsonb value for every row it adds (bench/queries: 30.9 s for a week of minutes, against
 * 95–119 ms fetched by the hour and merged here). Reading the text directly (addCounts)
 * costs half the CPU of letting the driver parse jsonb into objects, and one row per group
 * rather than per stored row spares the driver and the merge thousands of rows
 * (bench/queries, the overview of a week: 4,086 rows → 169).
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client';
import { HOUR_MS, hourStart, MINUTE_MS } from '../time-buckets';
import { queryRows } from '../rows';
import { dimensionConditions, andConditions, type DashboardFilter } from './filter';
import { DIMENSIONS, keyColumns, type Dimension, type KeyRow } from './group-keys';

/** Bucket key to count, as histogramQuantiles reads them once converted. */
export type Counts = Map<number, number>;

/** What adds up across rollup rows and groups of them. */
export interface Counters {
  responses: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  bytes: number;
  /** Output tokens and seconds of generation, for mean per-response tokens/s. */
  generationTokens: number;
  generationSeconds: number;
  /** Responses that named their connection, and those sent on one already open. */
  connectionResponses: number;
  reusedResponses: number;
}

/** Counters as SQL returns them, under their column names. */
export interface CounterRow extends Record<string, unknown> {
  responses: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  bytes: number;
  generation_tokens: number;
  generation_seconds: number;
  connection_responses: number;
  reused_responses: number;
}

export function countersOf(row: CounterRow): Counters {
  return {
    responses: Number(row.responses),
    errors: Number(row.errors),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    bytes: Number(row.bytes),
    generationTokens: Number(row.generation_tokens),
    generationSeconds: Number(row.generation_seconds),
    connectionResponses: Number(row.connection_responses),
    reusedResponses: Number(row.reused_responses),
  };
}

export interface RollupSums extends Counters {
  /** Start of the group's step, epoch ms; the range's start when the read is not grouped by time. */
  bucket: number;
  /** null when the read is not grouped by it. */
  model: string | null;
  transport: string | null;
}

/** One group of stored rows; its histograms still in jsonb's text form. */
export interface RollupRecord extends RollupSums {
  ttftHist: string;
  itlHist: string;
  durationHist: string;
}

/** Records merged: counters summed, histograms added up. */
export interface RollupGroup extends RollupSums {
  ttftHist: Counts;
  itlHist: Counts;
  durationHist: Counts;
}

/** Histograms as text on both tiers: json on the hours (stored as text), jsonb on the minutes. */
const MEASURES = `responses, errors, input_tokens, output_tokens, bytes_sent + bytes_received as bytes,
  generation_tokens, generation_seconds, connection_responses, reused_responses,
  ttft_hist::text as ttft_hist, itl_hist::text as itl_hist, duration_hist::text as duration_hist`;
const COLUMNS = sql.raw(`bucket, model, transport, ${MEASURES}`);
/** For reads grouped by neither model nor transport, which the hour totals do not have. */
const KEYLESS_COLUMNS = sql.raw(`bucket, ${MEASURES}`);

const SUMS = sql.raw(`sum(responses)::float8 as responses, sum(errors)::float8 as errors, sum(input_tokens)::float8 as input_tokens,
  sum(output_tokens)::float8 as output_tokens, sum(bytes)::float8 as bytes, sum(generation_tokens)::float8 as generation_tokens,
  sum(generation_seconds)::float8 as generation_seconds, sum(connection_responses)::float8 as connection_responses,
  sum(reused_responses)::float8 as reused_responses, string_agg(ttft_hist, '') as ttft_hist,
  string_agg(itl_hist, '') as itl_hist, string_agg(duration_hist, '') as duration_hist`);

const at = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** Which rollup tables a read goes to: the response rollups unless told. */
export interface RollupTables {
  minutes: string;
  hours: string;
  /** The dimensions the tables are keyed by (connection rollups carry no model). */
  dimensions: readonly ('service' | 'model' | 'transport')[];
}

const RESPONSE_TABLES: RollupTables = { minutes: 'rollups_1m', hours: 'rollups_1h', dimensions: ['service', 'model', 'transport'] };
/** Every service, model and transport at once: one row an hour (db/hourly-rollups.ts), the minutes as they are. */
const TOTAL_TABLES: RollupTables = { ...RESPONSE_TABLES, hours: 'rollups_1h_totals' };

/**
 * The source rows of [from, to) as one union. With `hours`, the whole hours inside the
 * range up to the last hour rolled come from the hourly table; everything else from the
 * minutes. The caller must only use hours when an hour row falls whole in one of its
 * groups. `columns` defaults to those readRollups reads.
 */
export function rollupSource(
  filter: DashboardFilter,
  { hours, columns = COLUMNS, tables = RESPONSE_TABLES }: { hours: boolean; columns?: SQL; tables?: RollupTables },
): SQL {
  const from = filter.from.getTime();
  const to = filter.to.getTime();
  const dims = andConditions(dimensionConditions(filter, tables.dimensions));
  const [minutes, hourly] = [tables.minutes, tables.hours].map((name) => sql.identifier(name));
  const firstHour = Math.ceil(from / HOUR_MS) * HOUR_MS;
  const lastHour = hourStart(to);
  if (!hours || lastHour <= firstHour) return sql`select ${columns} from ${minutes} where bucket >= ${at(from)} and bucket < ${at(to)}${dims}`;
  // Hours after the newest rolled one are read by the minute: the job runs every few
  // minutes, so a completed hour may not be rolled yet.
  const hoursEnd = sql`(select least(${at(lastHour)}, greatest(${at(firstHour)}, max(bucket) + interval '1 hour')) from ${hourly})`;
  return sql`select ${columns} from ${hourly} where bucket >= ${at(firstHour)} and bucket < ${hoursEnd}${dims}
    union all
    select ${columns} from ${minutes}
    where ((bucket >= ${at(from)} and bucket < ${at(firstHour)}) or (bucket >= ${hoursEnd} and bucket < ${at(to)}))${dims}`;
}

interface GroupRow extends KeyRow, CounterRow {
  ttft_hist: string | null;
  itl_hist: string | null;
  duration_hist: string | null;
}

/**
 * The rollups of the range, one record per group of `by` (time in steps of `stepMs`, a
 * multiple of a minute), with services always merged; by default per minute (or hour row),
 * model and transport. With `hours`, an hour's row counts whole in the step its hour starts in.
 */
export async function readRollups(
  db: Db,
  filter: DashboardFilter,
  { hours, by = DIMENSIONS, stepMs = MINUTE_MS }: { hours: boolean; by?: readonly Dimension[]; stepMs?: number },
): Promise<RollupRecord[]> {
  const keys = keyColumns(by, sql`bucket`, stepMs / 1000);
  // Unfiltered and grouped by time at most, a read takes one row an hour, its totals, rather
  // than one per service, model and transport.
  const totals = hours && !by.includes('model') && !by.includes('transport') && dimensionConditions(filter).length === 0;
  const source = totals ? rollupSource(filter, { hours, columns: KEYLESS_COLUMNS, tables: TOTAL_TABLES }) : rollupSource(filter, { hours });
  const rows = await queryRows<GroupRow>(db, sql`select ${keys.select}, ${SUMS} from (${source}) r ${keys.groupBy}`);
  return rows.map((row) => ({
    ...countersOf(row),
    bucket: row.k_time === null ? filter.from.getTime() : Number(row.k_time),
    model: row.k_model,
    transport: row.k_transport,
    // A group of no rows (a read grouped by nothing, of an empty range) has no histograms.
    ttftHist: row.ttft_hist ?? '',
    itlHist: row.itl_hist ?? '',
    durationHist: row.duration_hist ?? '',
  }));
}

const SUMMED_FIELDS = ['responses', 'errors', 'inputTokens', 'outputTokens', 'bytes', 'generationTokens', 'generationSeconds',
  'connectionResponses', 'reusedResponses'] as const;
const HISTOGRAM_FIELDS = ['ttftHist', 'itlHist', 'durationHist'] as const;

/**
 * Merges records (or groups) by `keyOf`: counters add, histograms add up; the first
 * member's bucket, model and transport stand for the group.
 */
export function mergeRecords(records: readonly (RollupRecord | RollupGroup)[], keyOf: (record: RollupSums) => string): Map<string, RollupGroup> {
  const groups = new Map<string, RollupGroup>();
  for (const record of records) {
    const key = keyOf(record);
    let group = groups.get(key);
    if (!group) {
      group = { ...record, ...Object.fromEntries(SUMMED_FIELDS.map((field) => [field, 0])), ttftHist: new Map(), itlHist: new Map(), durationHist: new Map() };
      groups.set(key, group);
    }
    for (const field of SUMMED_FIELDS) group[field] += record[field];
    for (const field of HISTOGRAM_FIELDS) addCounts(group[field], record[field]);
  }
  return groups;
}

/**
 * Counts of the text being read, at key + SCRATCH_OFFSET: a text of a group repeats each key
 * once per stored row (18 times an hour in the benchmark's week), so keys are added up here
 * and go into the target map once each. Bucket keys of 1 µs to beyond a year fall inside;
 * any other goes to the map directly.
 */
const scratch = new Float64Array(4096);
const SCRATCH_OFFSET = 2048;

/**
 * Adds a histogram's counts into `target`. A stored one is read straight from jsonb's text
 * form ({"key": count, "key": count}, integer keys and counts) one character at a time:
 * parsing thousands of rows into objects first, or slicing out every number, cost several
 * times the merge itself (bench/queries). Several such texts one after another add up alike.
 */
export function addCounts(target: Counts, source: string | Counts): void {
  if (typeof source !== 'string') {
    for (const [key, n] of source) target.set(key, (target.get(key) ?? 0) + n);
    return;
  }
  const QUOTE = 34;
  const COMMA = 44;
  const MINUS = 45;
  const ZERO = 48;
  const NINE = 57;
  let [lowest, highest] = [scratch.length, -1];
  // Where the key's digits start; 0 once no key is left.
  let i = source.indexOf('"') + 1;
  while (i > 0) {
    let c = source.charCodeAt(i);
    const negative = c === MINUS;
    if (negative) c = source.charCodeAt(++i);
    let key = 0;
    for (; c !== QUOTE; c = source.charCodeAt(++i)) key = key * 10 + (c - ZERO);
    // Past the closing quote, the colon and the space jsonb prints.
    i += 3;
    c = source.charCodeAt(i);
    let n = 0;
    for (; c >= ZERO && c <= NINE; c = source.charCodeAt(++i)) n = n * 10 + (c - ZERO);
    const k = negative ? -key : key;
    const slot = k + SCRATCH_OFFSET;
    if (slot >= 0 && slot < scratch.length) {
      scratch[slot] += n;
      if (slot < lowest) lowest = slot;
      if (slot > highest) highest = slot;
    } else {
      target.set(k, (target.get(k) ?? 0) + n);
    }
    // Within an object the next key follows ', "'; past its end, search for the next object's
    // first key (texts of empty objects hold none): a search per object rather than per key.
    i = c === COMMA ? i + 3 : source.indexOf('"', i) + 1;
  }
  for (let slot = lowest; slot <= highest; slot++) {
    const n = scratch[slot];
    if (n === 0) continue;
    const k = slot - SCRATCH_OFFSET;
    target.set(k, (target.get(k) ?? 0) + n);
    scratch[slot] = 0;
  }
}
