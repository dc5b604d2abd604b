/*
 * The write path: one batch of translated spans in one transaction.
 *
 * Raw rows go in with a single multi-row INSERT ... SELECT FROM unnest(...) per table (one
 * statement and one round trip however large the batch; a Drizzle values() insert binds
 * one parameter per cell and is several times slower). ON CONFLICT DO NOTHING on
 * (trace_id, span_id, time) makes exporter retries harmless — the time column is the
 * partition key, which every unique index of a partitioned table must hold, and a retry
 * repeats it — and the rollups are computed from the rows that were actually inserted,
 * so a retry never counts twice either.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db, Store } from './client';
import { CONNECTION_ROLLUPS, connectionRollupChange, type ConnectionRollupAccumulator } from './connection-rollups';
import { addToHistogram } from './histogram';
import { queryRows } from './rows';
import { connections, type ConnectionRow, type HistogramBuckets, type NewConnectionRow, type NewResponseRow } from './schema';
import { minuteStart } from './time-buckets';

export interface SpanBatch {
  responses: NewResponseRow[];
  connections: ConnectionReport[];
}

/**
 * A connection row as a span reports it: closed (closedAt set), or still open (closedAt
 * null: a report the instrumentation sends while the connection lives, superseded by its
 * next report or its closing span).
 */
export type ConnectionReport = NewConnectionRow & {
  /** A closing span of a connection that sent open reports, which it replaces. */
  reportedOpen?: boolean;
};

/** Status of a row the maintenance job closed when its open reports stopped (db/open-connections.ts). */
export const EXPIRED_STATUS = 'expired';

export interface WriteResult {
  responsesInserted: number;
  connectionsInserted: number;
}

export type Column<Row> = {
  name: string;
  /** Postgres element type of the unnest array parameter. */
  type: 'text' | 'float8' | 'int4' | 'int8' | 'bool';
  /** Cast applied to the unnested value (for arrays and jsonb passed as text). */
  cast?: string;
  value: (row: Row) => string | number | boolean | null | undefined;
};

const toMs = (date: Date | null | undefined) => (date ? date.getTime() : null);
const toArrayLiteral = (values: number[] | null | undefined) => (values ? `{${values.join(',')}}` : null);

/** The responses columns the write path fills, in the order it sends them (COPY uses them too). */
export const RESPONSE_COLUMNS: Column<NewResponseRow>[] = [
  { name: 'trace_id', type: 'text', value: (r) => r.traceId },
  { name: 'span_id', type: 'text', value: (r) => r.spanId },
  { name: 'service', type: 'text', value: (r) => r.service },
  { name: 'provider', type: 'text', value: (r) => r.provider },
  { name: 'model', type: 'text', value: (r) => r.model },
  { name: 'request_model', type: 'text', value: (r) => r.requestModel },
  { name: 'operation', type: 'text', value: (r) => r.operation },
  { name: 'api', type: 'text', value: (r) => r.api },
  { name: 'transport', type: 'text', value: (r) => r.transport },
  { name: 'connection_id', type: 'text', value: (r) => r.connectionId },
  { name: 'connection_reused', type: 'bool', value: (r) => r.connectionReused },
  { name: 'response_id', type: 'text', value: (r) => r.responseId },
  { name: 'start_time', type: 'float8', cast: 'timestamptz', value: (r) => toMs(r.startTime) },
  { name: 'ttfb_ms', type: 'float8', value: (r) => r.ttfbMs },
  { name: 'ttft_ms', type: 'float8', value: (r) => r.ttftMs },
  { name: 'duration_ms', type: 'float8', value: (r) => r.durationMs },
  { name: 'input_tokens', type: 'int4', value: (r) => r.inputTokens },
  { name: 'output_tokens', type: 'int4', value: (r) => r.outputTokens },
  { name: 'output_chunks', type: 'int4', value: (r) => r.outputChunks },
  { name: 'tokens_per_second', type: 'float8', value: (r) => r.tokensPerSecond },
  { name: 'itl_mean_ms', type: 'float8', value: (r) => r.itlMeanMs },
  { name: 'itl_p50_ms', type: 'float8', value: (r) => r.itlP50Ms },
  { name: 'itl_p99_ms', type: 'float8', value: (r) => r.itlP99Ms },
  { name: 'itl_max_ms', type: 'float8', value: (r) => r.itlMaxMs },
  { name: 'token_offsets_us', type: 'text', cast: 'int4[]', value: (r) => toArrayLiteral(r.tokenOffsetsUs) },
  { name: 'outcome', type: 'text', value: (r) => r.outcome },
  { name: 'status', type: 'text', value: (r) => r.status },
  { name: 'error_type', type: 'text', value: (r) => r.errorType },
  { name: 'error_message', type: 'text', value: (r) => r.errorMessage },
  { name: 'bytes_sent', type: 'int8', value: (r) => r.bytesSent },
  { name: 'bytes_received', type: 'int8', value: (r) => r.bytesReceived },
  { name: 'attributes', type: 'text', cast: 'jsonb', value: (r) => JSON.stringify(r.attributes ?? {}) },
];

export const CONNECTION_COLUMNS: Column<NewConnectionRow>[] = [
  { name: 'trace_id', type: 'text', value: (r) => r.traceId },
  { name: 'span_id', type: 'text', value: (r) => r.spanId },
  { name: 'connection_id', type: 'text', value: (r) => r.connectionId },
  { name: 'service', type: 'text', value: (r) => r.service },
  { name: 'transport', type: 'text', value: (r) => r.transport },
  { name: 'server_address', type: 'text', value: (r) => r.serverAddress },
  { name: 'server_port', type: 'int4', value: (r) => r.serverPort },
  { name: 'opened_at', type: 'float8', cast: 'timestamptz', value: (r) => toMs(r.openedAt) },
  { name: 'closed_at', type: 'float8', cast: 'timestamptz', value: (r) => toMs(r.closedAt) },
  { name: 'dns_ms', type: 'float8', value: (r) => r.dnsMs },
  { name: 'tcp_ms', type: 'float8', value: (r) => r.tcpMs },
  { name: 'tls_ms', type: 'float8', value: (r) => r.tlsMs },
  { name: 'upgrade_ms', type: 'float8', value: (r) => r.upgradeMs },
  { name: 'connect_ms', type: 'float8', value: (r) => r.connectMs },
  { name: 'responses', type: 'int4', value: (r) => r.responses },
  { name: 'bytes_sent', type: 'int8', value: (r) => r.bytesSent },
  { name: 'bytes_received', type: 'int8', value: (r) => r.bytesReceived },
  { name: 'frames_sent', type: 'int8', value: (r) => r.framesSent },
  { name: 'frames_received', type: 'int8', value: (r) => r.framesReceived },
  { name: 'close_code', type: 'int4', value: (r) => r.closeCode },
  { name: 'status', type: 'text', value: (r) => r.status },
  { name: 'attributes', type: 'text', cast: 'jsonb', value: (r) => JSON.stringify(r.attributes ?? {}) },
];

/**
 * A Postgres array literal ('{"a",NULL,"b"}'). Arrays travel as one text parameter each:
 * the drivers disagree on how they type a JS array parameter, but both send text as is.
 */
function arrayLiteral(values: readonly (string | number | boolean | null | undefined)[]): string {
  const items = values.map((v) => {
    if (v == null || (typeof v === 'number' && !Number.isFinite(v))) return 'NULL';
    if (typeof v !== 'string') return String(v);
    return `"${v.replace(/["\\]/g, '\\$&')}"`;
  });
  return `{${items.join(',')}}`;
}

function arrayParameter<Row>(column: Column<Row>, rows: readonly Row[]): SQL {
  return sql`${arrayLiteral(rows.map(column.value))}::${sql.raw(column.type)}[]`;
}

/** How a column's unnested value becomes the stored value. */
function selectExpression<Row>(column: Column<Row>): SQL {
  const ref = sql.identifier(column.name);
  // Timestamps travel as epoch milliseconds: exact, and parsed identically by both drivers.
  if (column.cast === 'timestamptz') return sql`to_timestamp(${ref} / 1000.0)`;
  return column.cast ? sql`${ref}::${sql.raw(column.cast)}` : sql`${ref}`;
}

/**
 * INSERT INTO table (cols) SELECT ... FROM unnest($1::type[], $2::type[], ...) ON CONFLICT
 * DO NOTHING RETURNING trace_id, span_id — one array parameter per column. `partitionKey`
 * is the table's time column, part of its unique (trace_id, span_id, time) index.
 */
function unnestInsert<Row>(table: string, partitionKey: string, columns: Column<Row>[], rows: Row[]): SQL {
  const names = sql.join(columns.map((c) => sql.identifier(c.name)), sql`, `);
  const arrays = sql.join(columns.map((c) => arrayParameter(c, rows)), sql`, `);
  const selects = sql.join(columns.map(selectExpression), sql`, `);
  return sql`insert into ${sql.identifier(table)} (${names})
    select ${selects} from unnest(${arrays}) as t(${names})
    on conflict (trace_id, span_id, ${sql.identifier(partitionKey)}) do nothing
    returning trace_id, span_id`;
}

export interface RollupAccumulator {
  bucket: number;
  service: string;
  model: string;
  transport: string;
  responses: number;
  errors: number;
  withOutput: number;
  inputTokens: number;
  outputTokens: number;
  generationTokens: number;
  generationSeconds: number;
  bytesSent: number;
  bytesReceived: number;
  /** Optional so rows built from metrics (which know nothing of connections) leave them 0. */
  connectionResponses?: number;
  reusedResponses?: number;
  ttftSumMs: number;
  durationSumMs: number;
  ttftMaxMs: number | null;
  durationMaxMs: number | null;
  itlMaxMs: number | null;
  ttftHist: HistogramBuckets;
  itlHist: HistogramBuckets;
  durationHist: HistogramBuckets;
}

const maxOf = (a: number | null, b: number | null | undefined) => (b == null ? a : a == null ? b : Math.max(a, b));

/** Adds every inter-token gap of a response (from its arrival offsets) to an ITL histogram. */
function addGaps(hist: HistogramBuckets, offsetsUs: number[]): void {
  for (let i = 1; i < offsetsUs.length; i++) addToHistogram(hist, (offsetsUs[i] - offsetsUs[i - 1]) / 1000);
}

export function computeRollups(rows: NewResponseRow[]): RollupAccumulator[] {
  const groups = new Map<string, RollupAccumulator>();
  for (const row of rows) {
    const bucket = minuteStart(row.startTime.getTime());
    const model = row.model ?? '';
    const transport = row.transport ?? '';
    const key = `${bucket}\u0000${row.service}\u0000${model}\u0000${transport}`;
    let acc = groups.get(key);
    if (!acc) {
      acc = {
        bucket, service: row.service, model, transport,
        responses: 0, errors: 0, withOutput: 0, inputTokens: 0, outputTokens: 0,
        generationTokens: 0, generationSeconds: 0, bytesSent: 0, bytesReceived: 0,
        connectionResponses: 0, reusedResponses: 0, ttftSumMs: 0, durationSumMs: 0, ttftMaxMs: null, durationMaxMs: null, itlMaxMs: null,
        ttftHist: {}, itlHist: {}, durationHist: {},
      };
      groups.set(key, acc);
    }
    acc.responses += 1;
    if (row.status === 'error') acc.errors += 1;
    acc.inputTokens += row.inputTokens ?? 0;
    acc.outputTokens += row.outputTokens ?? 0;
    acc.bytesSent += row.bytesSent ?? 0;
    acc.bytesReceived += row.bytesReceived ?? 0;
    if (row.connectionId != null) {
      acc.connectionResponses = (acc.connectionResponses ?? 0) + 1;
      if (row.connectionReused) acc.reusedResponses = (acc.reusedResponses ?? 0) + 1;
    }
    acc.durationSumMs += row.durationMs;
    acc.durationMaxMs = maxOf(acc.durationMaxMs, row.durationMs);
    addToHistogram(acc.durationHist, row.durationMs);
    if (row.ttftMs != null) {
      acc.withOutput += 1;
      acc.ttftSumMs += row.ttftMs;
      acc.ttftMaxMs = maxOf(acc.ttftMaxMs, row.ttftMs);
      addToHistogram(acc.ttftHist, row.ttftMs);
      const generationMs = row.durationMs - row.ttftMs;
      if (row.outputTokens && generationMs > 0) {
        acc.generationTokens += row.outputTokens;
        acc.generationSeconds += generationMs / 1000;
      }
    }
    acc.itlMaxMs = maxOf(acc.itlMaxMs, row.itlMaxMs);
    if (row.tokenOffsetsUs) addGaps(acc.itlHist, row.tokenOffsetsUs);
  }
  return [...groups.values()];
}

const ROLLUP_COLUMNS: Column<RollupAccumulator>[] = [
  { name: 'bucket', type: 'float8', cast: 'timestamptz', value: (r) => r.bucket },
  { name: 'service', type: 'text', value: (r) => r.service },
  { name: 'model', type: 'text', value: (r) => r.model },
  { name: 'transport', type: 'text', value: (r) => r.transport },
  { name: 'responses', type: 'int8', value: (r) => r.responses },
  { name: 'errors', type: 'int8', value: (r) => r.errors },
  { name: 'with_output', type: 'int8', value: (r) => r.withOutput },
  { name: 'input_tokens', type: 'int8', value: (r) => r.inputTokens },
  { name: 'output_tokens', type: 'int8', value: (r) => r.outputTokens },
  { name: 'generation_tokens', type: 'int8', value: (r) => r.generationTokens },
  { name: 'generation_seconds', type: 'float8', value: (r) => r.generationSeconds },
  { name: 'bytes_sent', type: 'int8', value: (r) => r.bytesSent },
  { name: 'bytes_received', type: 'int8', value: (r) => r.bytesReceived },
  { name: 'connection_responses', type: 'int8', value: (r) => r.connectionResponses ?? 0 },
  { name: 'reused_responses', type: 'int8', value: (r) => r.reusedResponses ?? 0 },
  { name: 'ttft_sum_ms', type: 'float8', value: (r) => r.ttftSumMs },
  { name: 'duration_sum_ms', type: 'float8', value: (r) => r.durationSumMs },
  { name: 'ttft_max_ms', type: 'float8', value: (r) => r.ttftMaxMs },
  { name: 'duration_max_ms', type: 'float8', value: (r) => r.durationMaxMs },
  { name: 'itl_max_ms', type: 'float8', value: (r) => r.itlMaxMs },
  { name: 'ttft_hist', type: 'text', cast: 'jsonb', value: (r) => JSON.stringify(r.ttftHist) },
  { name: 'itl_hist', type: 'text', cast: 'jsonb', value: (r) => JSON.stringify(r.itlHist) },
  { name: 'duration_hist', type: 'text', cast: 'jsonb', value: (r) => JSON.stringify(r.durationHist) },
];

/** Rollup columns by how two rows of one key combine (db/hourly-rollups.ts combines them too). */
export const SUMMED = ['responses', 'errors', 'with_output', 'input_tokens', 'output_tokens', 'generation_tokens',
  'generation_seconds', 'bytes_sent', 'bytes_received', 'connection_responses', 'reused_responses', 'ttft_sum_ms', 'duration_sum_ms'];
export const MAXED = ['ttft_max_ms', 'duration_max_ms', 'itl_max_ms'];
export const MERGED = ['ttft_hist', 'itl_hist', 'duration_hist'];

/**
 * A rollup table pair: rows per minute merged by every writer, rows per hour recomputed
 * from them by the hourly job (db/hourly-rollups.ts). Both tiers have the same columns.
 */
export interface RollupTier<Row> {
  minutes: string;
  hours: string;
  /** Per hour, every key's hour row merged into one (the same columns without the keys). */
  hourTotals?: string;
  /** Key columns besides bucket. */
  keys: readonly string[];
  columns: Column<Row>[];
  /** Columns by how two rows of one key combine. */
  summed: readonly string[];
  maxed: readonly string[];
  merged: readonly string[];
  /** The order of the keys, the same for every writer. */
  order: (a: Row, b: Row) => number;
}

export const RESPONSE_ROLLUPS: RollupTier<RollupAccumulator> = {
  minutes: 'rollups_1m',
  hours: 'rollups_1h',
  hourTotals: 'rollups_1h_totals',
  keys: ['service', 'model', 'transport'],
  columns: ROLLUP_COLUMNS,
  summed: SUMMED,
  maxed: MAXED,
  merged: MERGED,
  order: (a, b) => a.bucket - b.bucket || a.service.localeCompare(b.service)
    || a.model.localeCompare(b.model) || a.transport.localeCompare(b.transport),
};

/**
 * Merges rows into a tier's minutes: counters add, maxima take the larger, histograms
 * merge, and updated_at marks the minute for the hourly job.
 */
async function mergeInto<Row>(db: Db, tier: RollupTier<Row>, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  // Sorted keys make concurrent writers lock rollup rows in one order, so they cannot deadlock.
  rows.sort(tier.order);
  const table = tier.minutes;
  const names = sql.join(tier.columns.map((c) => sql.identifier(c.name)), sql`, `);
  const arrays = sql.join(tier.columns.map((c) => arrayParameter(c, rows)), sql`, `);
  const updates = sql.raw([
    ...tier.summed.map((c) => `${c} = ${table}.${c} + excluded.${c}`),
    ...tier.maxed.map((c) => `${c} = greatest(${table}.${c}, excluded.${c})`),
    ...tier.merged.map((c) => `${c} = streamscope_hist_merge(${table}.${c}, excluded.${c})`),
    'updated_at = now()',
  ].join(', '));
  await db.execute(sql`insert into ${sql.identifier(table)} (${names})
    select ${sql.join(tier.columns.map(selectExpression), sql`, `)} from unnest(${arrays}) as t(${names})
    on conflict (bucket, ${sql.raw(tier.keys.join(', '))}) do update set ${updates}`);
}

/** Merges response rollup rows into rollups_1m. */
export async function mergeRollups(db: Db, rollups: RollupAccumulator[]): Promise<void> {
  await mergeInto(db, RESPONSE_ROLLUPS, rollups);
}

/** Merges connection rollup rows into connection_rollups_1m. */
export async function mergeConnectionRollups(db: Db, rollups: ConnectionRollupAccumulator[]): Promise<void> {
  await mergeInto(db, CONNECTION_ROLLUPS, rollups);
}

const rowKey = (traceId: string, spanId: string) => `${traceId}:${spanId}`;

/** A batch may repeat a span (an exporter retry merged into a later batch); keep the first. */
function uniqueSpans<Row extends { traceId: string; spanId: string }>(rows: Row[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = rowKey(r.traceId, r.spanId);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const CONNECTION_ID = CONNECTION_COLUMNS.find((c) => c.name === 'connection_id') as Column<NewConnectionRow>;
const OPENED_AT = CONNECTION_COLUMNS.find((c) => c.name === 'opened_at') as Column<NewConnectionRow>;

/**
 * The stored rows of these connections. A connection's reports all start when it did, so
 * its rows share connection_id and opened_at; matching the two as lists lets Postgres
 * prune to the partitions of those days.
 */
function rowsOf(rows: readonly NewConnectionRow[]): SQL {
  return sql`connection_id = any(${arrayParameter(CONNECTION_ID, rows)})
    and opened_at = any(array(select to_timestamp(ms / 1000.0) from unnest(${arrayParameter(OPENED_AT, rows)}) as ms))`;
}

/**
 * Connection rows, closed and open (ConnectionReport). A closing span of a connection that
 * reported while open replaces its open report, or the row the maintenance job expired
 * when the reports stopped (db/open-connections.ts); an open report replaces the
 * connection's earlier one, and is dropped once the connection is stored closed (a report
 * retried after the closing span). A replaced row's rollups are taken back as the new
 * row's are merged, so the rollups stay those of the rows stored.
 */
async function writeConnections(db: Db, rows: ConnectionReport[]): Promise<number> {
  const closed = rows.filter((r) => r.closedAt);
  // The batch's last report of a connection is its newest.
  const open = [...new Map(rows.filter((r) => !r.closedAt).map((r) => [r.connectionId, r])).values()];
  const reported = closed.filter((r) => r.reportedOpen);
  const replaced: ConnectionRow[] = [];
  const written: NewConnectionRow[] = [];
  const insert = async (batch: NewConnectionRow[]) => {
    const inserted = await queryRows<{ trace_id: string; span_id: string }>(db, unnestInsert('connections', 'opened_at', CONNECTION_COLUMNS, batch));
    const fresh = new Set(inserted.map((r) => rowKey(r.trace_id, r.span_id)));
    written.push(...batch.filter((c) => fresh.has(rowKey(c.traceId, c.spanId))));
  };
  if (reported.length > 0) {
    replaced.push(...await db.delete(connections).where(sql`${rowsOf(reported)} and (closed_at is null or status = ${EXPIRED_STATUS})`).returning());
  }
  if (closed.length > 0) await insert(closed);
  if (open.length > 0) {
    replaced.push(...await db.delete(connections).where(sql`${rowsOf(open)} and closed_at is null`).returning());
    const stored = await queryRows<{ connection_id: string }>(db, sql`select connection_id from connections where ${rowsOf(open)} and closed_at is not null`);
    const closedIds = new Set(stored.map((r) => r.connection_id));
    const stillOpen = open.filter((r) => !closedIds.has(r.connectionId));
    if (stillOpen.length > 0) await insert(stillOpen);
  }
  await mergeConnectionRollups(db, connectionRollupChange(written, replaced));
  return written.length;
}

/**
 * Writes one batch atomically: raw rows (duplicates skipped) and the rollups of the rows
 * that were new. Resolves only after the transaction committed.
 */
export async function writeBatch(store: Store, batch: SpanBatch): Promise<WriteResult> {
  return store.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    let responsesInserted = 0;
    let connectionsInserted = 0;
    const responses = uniqueSpans(batch.responses);
    if (responses.length > 0) {
      const inserted = await queryRows<{ trace_id: string; span_id: string }>(
        db, unnestInsert('responses', 'start_time', RESPONSE_COLUMNS, responses));
      responsesInserted = inserted.length;
      const fresh = new Set(inserted.map((r) => rowKey(r.trace_id, r.span_id)));
      await mergeRollups(db, computeRollups(responses.filter((r) => fresh.has(rowKey(r.traceId, r.spanId)))));
    }
    if (batch.connections.length > 0) connectionsInserted = await writeConnections(db, uniqueSpans(batch.connections));
    return { responsesInserted, connectionsInserted };
  });
}
