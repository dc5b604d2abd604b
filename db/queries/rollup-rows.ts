/*
 * Reading the rollups for a range: whole hours from rollups_1h where the hourly job has
 * rolled them, the ragged ends (and any hour not rolled yet) from rollups_1m. Rows come
 * back unmerged and are merged here, in JavaScript: the SQL aggregate streamscope_hist_sum
 * rebuilds a jsonb value for every row it adds (bench/queries: 30.9 s for a week of
 * minutes, against 95–119 ms fetched by the hour and merged here).
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client';
import { HOUR_MS } from '../hourly-rollups';
import { mergeHistograms } from '../histogram';
import { queryRows } from '../rows';
import type { HistogramBuckets } from '../schema';
import { dimensionConditions, andConditions, type DashboardFilter } from './filter';

export interface RollupRecord {
  /** Start of the minute or hour, epoch ms. */
  bucket: number;
  model: string;
  transport: string;
  responses: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  bytes: number;
  generationTokens: number;
  generationSeconds: number;
  connectionResponses: number;
  reusedResponses: number;
  ttftHist: HistogramBuckets;
  itlHist: HistogramBuckets;
  durationHist: HistogramBuckets;
}

const COLUMNS = sql.raw(`(extract(epoch from bucket) * 1000)::float8 as bucket, model, transport,
  responses::float8 as responses, errors::float8 as errors, input_tokens::float8 as input_tokens,
  output_tokens::float8 as output_tokens, (bytes_sent + bytes_received)::float8 as bytes,
  generation_tokens::float8 as generation_tokens, generation_seconds,
  connection_responses::float8 as connection_responses, reused_responses::float8 as reused_responses,
  ttft_hist, itl_hist, duration_hist`);

const at = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/**
 * The source rows of [from, to) as one union. With `hours`, the whole hours inside the
 * range up to the last hour rolled come from rollups_1h; everything else from rollups_1m.
 * The caller must only use hours when an hour row falls whole in one of its groups.
 * `columns` defaults to those readRollups reads.
 */
export function rollupSource(filter: DashboardFilter, { hours, columns = COLUMNS }: { hours: boolean; columns?: SQL }): SQL {
  const from = filter.from.getTime();
  const to = filter.to.getTime();
  const dims = andConditions(dimensionConditions(filter));
  const firstHour = Math.ceil(from / HOUR_MS) * HOUR_MS;
  const lastHour = Math.floor(to / HOUR_MS) * HOUR_MS;
  if (!hours || lastHour <= firstHour) return sql`select ${columns} from rollups_1m where bucket >= ${at(from)} and bucket < ${at(to)}${dims}`;
  // Hours after the newest rolled one are read by the minute: the job runs every few
  // minutes, so a completed hour may not be rolled yet.
  const hoursEnd = sql`(select least(${at(lastHour)}, greatest(${at(firstHour)}, max(bucket) + interval '1 hour')) from rollups_1h)`;
  return sql`select ${columns} from rollups_1h where bucket >= ${at(firstHour)} and bucket < ${hoursEnd}${dims}
    union all
    select ${columns} from rollups_1m
    where ((bucket >= ${at(from)} and bucket < ${at(firstHour)}) or (bucket >= ${hoursEnd} and bucket < ${at(to)}))${dims}`;
}

interface SourceRow extends Record<string, unknown> {
  bucket: number;
  model: string;
  transport: string;
  responses: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  bytes: number;
  generation_tokens: number;
  generation_seconds: number;
  connection_responses: number;
  reused_responses: number;
  ttft_hist: HistogramBuckets;
  itl_hist: HistogramBuckets;
  duration_hist: HistogramBuckets;
}

export async function readRollups(db: Db, filter: DashboardFilter, options: { hours: boolean }): Promise<RollupRecord[]> {
  const rows = await queryRows<SourceRow>(db, rollupSource(filter, { hours: options.hours }));
  return rows.map((row) => ({
    bucket: Number(row.bucket),
    model: row.model,
    transport: row.transport,
    responses: Number(row.responses),
    errors: Number(row.errors),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    bytes: Number(row.bytes),
    generationTokens: Number(row.generation_tokens),
    generationSeconds: Number(row.generation_seconds),
    connectionResponses: Number(row.connection_responses),
    reusedResponses: Number(row.reused_responses),
    ttftHist: row.ttft_hist,
    itlHist: row.itl_hist,
    durationHist: row.duration_hist,
  }));
}

const SUMMED_FIELDS = ['responses', 'errors', 'inputTokens', 'outputTokens', 'bytes', 'generationTokens', 'generationSeconds',
  'connectionResponses', 'reusedResponses'] as const;
const HISTOGRAM_FIELDS = ['ttftHist', 'itlHist', 'durationHist'] as const;

/** Merges records by `keyOf`: counters add, histograms merge; the first record's bucket, model and transport stand for the group. */
export function mergeRecords(records: readonly RollupRecord[], keyOf: (record: RollupRecord) => string): Map<string, RollupRecord> {
  const groups = new Map<string, RollupRecord>();
  for (const record of records) {
    const key = keyOf(record);
    const group = groups.get(key);
    if (!group) {
      groups.set(key, { ...record, ttftHist: { ...record.ttftHist }, itlHist: { ...record.itlHist }, durationHist: { ...record.durationHist } });
      continue;
    }
    for (const field of SUMMED_FIELDS) group[field] += record[field];
    for (const field of HISTOGRAM_FIELDS) mergeHistograms(group[field], record[field]);
  }
  return groups;
}
