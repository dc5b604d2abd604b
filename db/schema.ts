/*
 * The Streamscope schema. Raw tables hold one row per span; rollups hold per-minute
 * aggregates with mergeable histograms (see db/histogram.ts) so long ranges read
 * thousands of rows, not millions.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const count = (name: string) => bigint(name, { mode: 'number' });

/** Sparse log-bucketed histogram: bucket key (as a string) to count. */
export type HistogramBuckets = Record<string, number>;

/** Range-partitioned by start_time into daily partitions (db/migrations/0002, db/partitions.ts). */
export const responses = pgTable(
  'responses',
  {
    traceId: text('trace_id').notNull(),
    spanId: text('span_id').notNull(),
    service: text('service').notNull(),
    provider: text('provider'),
    /** The model that answered, falling back to the one requested. */
    model: text('model'),
    requestModel: text('request_model'),
    operation: text('operation'),
    api: text('api'),
    /** websocket | sse | http; null for spans that do not say. */
    transport: text('transport'),
    connectionId: text('connection_id'),
    connectionReused: boolean('connection_reused'),
    responseId: text('response_id'),
    /** When the request was sent (the span start). */
    startTime: ts('start_time').notNull(),
    ttfbMs: doublePrecision('ttfb_ms'),
    ttftMs: doublePrecision('ttft_ms'),
    durationMs: doublePrecision('duration_ms').notNull(),
    inputTokens: integer('input_tokens'),
    outputTokens: integer('output_tokens'),
    outputChunks: integer('output_chunks'),
    tokensPerSecond: doublePrecision('tokens_per_second'),
    itlMeanMs: doublePrecision('itl_mean_ms'),
    itlP50Ms: doublePrecision('itl_p50_ms'),
    itlP99Ms: doublePrecision('itl_p99_ms'),
    itlMaxMs: doublePrecision('itl_max_ms'),
    /** Microseconds after startTime at which each output event arrived (capped by the sender). */
    tokenOffsetsUs: integer('token_offsets_us').array(),
    /** completed | incomplete | failed | aborted | connection_lost | timeout | null when unknown. */
    outcome: text('outcome'),
    /** ok | error, from the span status and outcome. */
    status: text('status').notNull(),
    errorType: text('error_type'),
    errorMessage: text('error_message'),
    bytesSent: count('bytes_sent'),
    bytesReceived: count('bytes_received'),
    /** Span attributes not mapped to a column, and resource attributes under "resource". */
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    ingestedAt: ts('ingested_at').notNull().defaultNow(),
  },
  (t) => [
    // The partition key must be part of every unique index on a partitioned table; an
    // exporter retry repeats the span's start time, so idempotency stays exact.
    uniqueIndex('responses_trace_span_uq').on(t.traceId, t.spanId, t.startTime),
    index('responses_start_time_idx').on(t.startTime),
    index('responses_dims_time_idx').on(t.service, t.model, t.transport, t.startTime),
    // text_pattern_ops: the explorer searches by id prefix (LIKE 'abc%'), which a btree
    // serves only under the C collation, and databases are often created with another.
    index('responses_response_id_idx').on(t.responseId.op('text_pattern_ops')),
    index('responses_trace_id_prefix_idx').on(t.traceId.op('text_pattern_ops')),
    // Errors are ~1 % of responses: the explorer's error filter reads only them, newest
    // first or slowest first (its order by TTFT, so a page reads 50 entries, not every
    // error of the range).
    index('responses_errors_time_idx').on(t.startTime).where(sql`status = 'error'`),
    index('responses_errors_ttft_idx').on(t.ttftMs.desc().nullsLast(), t.startTime.desc().nullsFirst(), t.spanId).where(sql`status = 'error'`),
    index('responses_connection_idx').on(t.connectionId),
  ],
);

/** Range-partitioned by opened_at into daily partitions, like responses. */
export const connections = pgTable(
  'connections',
  {
    traceId: text('trace_id').notNull(),
    spanId: text('span_id').notNull(),
    connectionId: text('connection_id').notNull(),
    service: text('service').notNull(),
    transport: text('transport'),
    serverAddress: text('server_address'),
    serverPort: integer('server_port'),
    openedAt: ts('opened_at').notNull(),
    closedAt: ts('closed_at'),
    dnsMs: doublePrecision('dns_ms'),
    tcpMs: doublePrecision('tcp_ms'),
    tlsMs: doublePrecision('tls_ms'),
    upgradeMs: doublePrecision('upgrade_ms'),
    /**
     * Connect start to a usable connection (DNS + TCP + TLS) when the phases are not
     * reported apart (fetch over TLS, the global WebSocket).
     */
    connectMs: doublePrecision('connect_ms'),
    responses: integer('responses'),
    bytesSent: count('bytes_sent'),
    bytesReceived: count('bytes_received'),
    framesSent: count('frames_sent'),
    framesReceived: count('frames_received'),
    closeCode: integer('close_code'),
    status: text('status').notNull(),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    ingestedAt: ts('ingested_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('connections_trace_span_uq').on(t.traceId, t.spanId, t.openedAt),
    index('connections_connection_id_idx').on(t.connectionId),
    // Everything the range-wide connection figures read (open connections per step,
    // handshakes, lifetimes, responses carried), so a week of them is read from the index
    // alone rather than from the wide rows.
    index('connections_opened_at_cover_idx').on(
      t.openedAt, t.closedAt, t.service, t.transport, t.dnsMs, t.tcpMs, t.tlsMs, t.connectMs, t.upgradeMs, t.responses,
    ),
    // Connections reported while still open, found at any age (db/queries/connections-in-use.ts).
    index('connections_open_idx').on(t.openedAt).where(sql`closed_at is null`),
  ],
);

/**
 * The columns of a rollup tier: aggregates per (bucket, service, model, transport) with
 * mergeable histograms. Both tiers share them, so an hour row is exactly the merge of its
 * minute rows (db/hourly-rollups.ts). The histograms' type differs: writers merge into the
 * minutes in SQL (jsonb), while the hours are only written whole and read as text
 * (db/queries/rollup-rows.ts), which json stores as it is and jsonb prints anew on every
 * read (bench/queries, half a week of hours: 55 ms of server time as jsonb, 12.5 as json).
 */
function rollupColumns(histogramType: 'json' | 'jsonb') {
  const histogram = (name: string) => (histogramType === 'json' ? json(name) : jsonb(name)).$type<HistogramBuckets>().notNull().default({});
  return {
    bucket: ts('bucket').notNull(),
    service: text('service').notNull(),
    /** '' when the span named no model, so the key stays total. */
    model: text('model').notNull(),
    transport: text('transport').notNull(),
    responses: count('responses').notNull().default(0),
    errors: count('errors').notNull().default(0),
    /** Responses that produced at least one output token (the TTFT population). */
    withOutput: count('with_output').notNull().default(0),
    inputTokens: count('input_tokens').notNull().default(0),
    outputTokens: count('output_tokens').notNull().default(0),
    /**
     * Output tokens and generation seconds (first to last output event) of the responses
     * that had both, so mean tokens/s per response = generationTokens / generationSeconds.
     */
    generationTokens: count('generation_tokens').notNull().default(0),
    generationSeconds: doublePrecision('generation_seconds').notNull().default(0),
    bytesSent: count('bytes_sent').notNull().default(0),
    bytesReceived: count('bytes_received').notNull().default(0),
    /**
     * Responses that named their connection, and those of them sent on a connection that
     * was already open. Each connection carries exactly one response that was not reused
     * (its first), so connections = connectionResponses − reusedResponses, summable over
     * any range where a distinct count of connection ids is not.
     */
    connectionResponses: count('connection_responses').notNull().default(0),
    reusedResponses: count('reused_responses').notNull().default(0),
    ttftSumMs: doublePrecision('ttft_sum_ms').notNull().default(0),
    durationSumMs: doublePrecision('duration_sum_ms').notNull().default(0),
    ttftMaxMs: doublePrecision('ttft_max_ms'),
    durationMaxMs: doublePrecision('duration_max_ms'),
    itlMaxMs: doublePrecision('itl_max_ms'),
    ttftHist: histogram('ttft_hist'),
    itlHist: histogram('itl_hist'),
    durationHist: histogram('duration_hist'),
    /**
     * When the row last changed (the writing transaction's start). The hourly job
     * recomputes every hour holding a minute changed since its previous run.
     */
    updatedAt: ts('updated_at').notNull().defaultNow(),
  };
}

/**
 * Per-minute aggregates per (service, model, transport). Writers merge into a row with
 * ON CONFLICT ... DO UPDATE (sums add, histograms merge via streamscope_hist_merge), so
 * several collectors writing the same minute never overwrite each other.
 */
export const rollups1m = pgTable('rollups_1m', rollupColumns('jsonb'), (t) => [
  primaryKey({ columns: [t.bucket, t.service, t.model, t.transport] }),
  index('rollups_1m_updated_at_idx').on(t.updatedAt),
]);

/**
 * Per-hour aggregates, each row the merge of its hour's rows in rollups_1m, recomputed
 * by the maintenance job (db/hourly-rollups.ts). Long ranges read these: a week is 168
 * rows per key instead of 10,080.
 */
export const rollups1h = pgTable('rollups_1h', rollupColumns('json'), (t) => [
  primaryKey({ columns: [t.bucket, t.service, t.model, t.transport] }),
]);

const { service: _service, model: _model, transport: _transport, ...hourTotalColumns } = rollupColumns('json');

/**
 * Per-hour aggregates of every service, model and transport together: each row the merge of
 * its hour's rows in rollups_1h, written with them by the hourly job. A read of everything,
 * grouped by time alone (the unfiltered overview), takes one row an hour here instead of
 * one per service, model and transport (db/queries/rollup-rows.ts).
 */
export const rollups1hTotals = pgTable('rollups_1h_totals', hourTotalColumns, (t) => [primaryKey({ columns: [t.bucket] })]);

/**
 * The columns of a connection rollup tier, per (bucket, service, transport): connections
 * carry no model. Two populations share a row:
 *
 * - every connection, by the minute it opened: what the Connections view shows (phase
 *   means as sums and counts, lifetimes as a mergeable histogram, responses carried and
 *   their distribution);
 * - connections reported closed, for the connections in use at a time t (the overview's
 *   series, compare's handshake cost per response): counted when opened (use_opened_*),
 *   when closed, by closing minute (use_closed_*), and at the start of every hour they
 *   span (use_at_start_*, on that hour's first minute). In use at t = in use at its hour's
 *   start + opened since − closed since, from one hour of minutes at most. Connections
 *   reported still open are read raw through a partial index (connections_open_idx).
 *
 * `carrying` counts connections that carried at least one response; `handshake_ms` and
 * `responses` are summed over those alone.
 */
function connectionRollupColumns() {
  const inUse = (role: 'opened' | 'closed' | 'at_start') => ({
    [`use_${role}`]: count(`use_${role}`).notNull().default(0),
    [`use_${role}_carrying`]: count(`use_${role}_carrying`).notNull().default(0),
    [`use_${role}_handshake_ms`]: doublePrecision(`use_${role}_handshake_ms`).notNull().default(0),
    [`use_${role}_responses`]: count(`use_${role}_responses`).notNull().default(0),
  });
  return {
    bucket: ts('bucket').notNull(),
    service: text('service').notNull(),
    /** '' when the span named no transport. */
    transport: text('transport').notNull(),
    connections: count('connections').notNull().default(0),
    dnsMsSum: doublePrecision('dns_ms_sum').notNull().default(0),
    dnsCount: count('dns_count').notNull().default(0),
    tcpMsSum: doublePrecision('tcp_ms_sum').notNull().default(0),
    tcpCount: count('tcp_count').notNull().default(0),
    tlsMsSum: doublePrecision('tls_ms_sum').notNull().default(0),
    tlsCount: count('tls_count').notNull().default(0),
    upgradeMsSum: doublePrecision('upgrade_ms_sum').notNull().default(0),
    upgradeCount: count('upgrade_count').notNull().default(0),
    connectMsSum: doublePrecision('connect_ms_sum').notNull().default(0),
    connectCount: count('connect_count').notNull().default(0),
    /** Closed minus opened, ms, of the connections reported closed. */
    lifetimeHist: jsonb('lifetime_hist').$type<HistogramBuckets>().notNull().default({}),
    /** Responses carried, summed over the connections that reported how many. */
    responses: count('responses').notNull().default(0),
    responsesReported: count('responses_reported').notNull().default(0),
    /** Connections by responses carried (none reported counts as 0), the bins of RESPONSES_PER_CONNECTION_BOUNDS. */
    carriedUpTo1: count('carried_up_to_1').notNull().default(0),
    carried2: count('carried_2').notNull().default(0),
    carried3To5: count('carried_3_to_5').notNull().default(0),
    carried6To20: count('carried_6_to_20').notNull().default(0),
    carried21To100: count('carried_21_to_100').notNull().default(0),
    carriedOver100: count('carried_over_100').notNull().default(0),
    ...inUse('opened'),
    ...inUse('closed'),
    ...inUse('at_start'),
    /** As in rollupColumns: the hourly job recomputes hours holding a minute changed since its previous run. */
    updatedAt: ts('updated_at').notNull().defaultNow(),
  };
}

/** Per-minute connection aggregates, merged on conflict by every writer like rollups_1m (db/connection-rollups.ts). */
export const connectionRollups1m = pgTable('connection_rollups_1m', connectionRollupColumns(), (t) => [
  primaryKey({ columns: [t.bucket, t.service, t.transport] }),
  index('connection_rollups_1m_updated_at_idx').on(t.updatedAt),
]);

/** Per-hour connection aggregates, each the merge of its minutes (db/hourly-rollups.ts). */
export const connectionRollups1h = pgTable('connection_rollups_1h', connectionRollupColumns(), (t) => [
  primaryKey({ columns: [t.bucket, t.service, t.transport] }),
]);

export const apiKeys = pgTable('api_keys', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  /** First characters of the key, shown so a user can tell keys apart. */
  prefix: text('prefix').notNull(),
  /** SHA-256 of the key; the key itself is never stored. */
  hash: text('hash').notNull().unique(),
  createdAt: ts('created_at').notNull().defaultNow(),
  revokedAt: ts('revoked_at'),
  lastUsedAt: ts('last_used_at'),
});

export const alertRules = pgTable('alert_rules', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  metric: text('metric').notNull(),
  statistic: text('statistic').notNull(),
  comparison: text('comparison').notNull(),
  threshold: doublePrecision('threshold').notNull(),
  windowSeconds: integer('window_seconds').notNull(),
  pendingSeconds: integer('pending_seconds').notNull().default(0),
  /** Fewer responses than this in the window give the rule no value: a percentile of three responses is noise. */
  minResponses: integer('min_responses').notNull().default(0),
  filters: jsonb('filters').$type<{ service?: string; model?: string; transport?: string }>().notNull().default({}),
  webhooks: jsonb('webhooks').$type<{ url: string; format: 'json' | 'slack' }[]>().notNull().default([]),
  enabled: boolean('enabled').notNull().default(true),
  /** inactive | pending | firing */
  state: text('state').notNull().default('inactive'),
  stateSince: ts('state_since'),
  lastValue: doublePrecision('last_value'),
  /** Responses in the window at the last evaluation, where it read them: why a rule with a minimum has no value. */
  lastResponses: integer('last_responses'),
  lastEvaluatedAt: ts('last_evaluated_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const alertEvents = pgTable(
  'alert_events',
  {
    id: serial('id').primaryKey(),
    ruleId: integer('rule_id')
      .notNull()
      .references(() => alertRules.id, { onDelete: 'cascade' }),
    at: ts('at').notNull().defaultNow(),
    fromState: text('from_state').notNull(),
    toState: text('to_state').notNull(),
    value: doublePrecision('value'),
    /** Responses in the window, where the evaluation counted them (alert_rules.last_responses). */
    responses: integer('responses'),
    /** Webhook delivery outcomes: one entry per target. */
    deliveries: jsonb('deliveries')
      .$type<{ url: string; ok: boolean; status?: number; error?: string; attempts: number }[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
  },
  (t) => [index('alert_events_rule_at_idx').on(t.ruleId, t.at)],
);

export type ResponseRow = typeof responses.$inferSelect;
export type NewResponseRow = typeof responses.$inferInsert;
export type ConnectionRow = typeof connections.$inferSelect;
export type NewConnectionRow = typeof connections.$inferInsert;
export type RollupRow = typeof rollups1m.$inferSelect;
export type AlertRule = typeof alertRules.$inferSelect;
export type AlertEvent = typeof alertEvents.$inferSelect;

/**
 * Delta metric points already merged into the rollups, by a hash of their series, start
 * and end: an exporter's retry is recognised whichever collector it reaches. Kept a day
 * (db/retention.ts); exporters retry within minutes.
 */
export const mergedMetricPoints = pgTable(
  'merged_metric_points',
  {
    pointKey: text('point_key').primaryKey(),
    mergedAt: ts('merged_at').notNull().defaultNow(),
  },
  (t) => [index('merged_metric_points_merged_at_idx').on(t.mergedAt)],
);

/**
 * The last merged point of each cumulative metric series, by a hash of the series (start
 * time included): the next point merges only its difference, whichever collector it
 * reaches, and after a restart. `lastPoint` is null until a point is merged. Kept a day
 * after its last update (db/retention.ts); a live series is exported every interval.
 */
export const metricSeries = pgTable(
  'metric_series',
  {
    seriesKey: text('series_key').primaryKey(),
    lastPoint: jsonb('last_point'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [index('metric_series_updated_at_idx').on(t.updatedAt)],
);
