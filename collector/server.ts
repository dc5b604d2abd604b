/*
 * The OTLP/HTTP receiver: POST /v1/traces (protobuf or JSON, optionally gzip) and
 * GET /healthz, on node:http.
 *
 * A request is answered only after its rows are committed (through the bounded write
 * queue), so a 200 means stored. Failures follow the OTLP/HTTP retry rules: 4xx for input
 * that will never succeed (nothing of it is stored); 429 with Retry-After when the write
 * queue is full and 503 with Retry-After when the database could not take the write, so
 * exporters retry and the (trace id, span id) idempotency absorbs the repeat.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import type { Store } from '../db/client';
import { createApiKeyVerifier, type ApiKeyVerifierOptions } from '../lib/api-keys/index';
import { describeRejections } from './batch';
import { encodeExportMetricsResponse, handleMetricsExport, METRICS_PATH } from './metrics/index';
import { PROMETHEUS_CONTENT_TYPE, PROMETHEUS_PATH, renderPrometheusMetrics } from './prometheus/index';
import { PrepareUnavailableError, QueueFullError, RequestError, WriteUnavailableError } from './errors';
import type { OtlpEncoding } from './otlp/decode';
import { CONTENT_TYPE, encodeExportTraceResponse, encodeStatus } from './otlp/encode';
import { guardPostgresJsNullSocketWrite } from './postgres-js-guard';
import { createPreparePool, defaultPrepareWorkers } from './prepare-pool';
import { readBody } from './read-body';
import { withTimeout } from './with-timeout';
import { createWriteQueue, DEFAULT_MAX_ROWS_PER_WRITE, DEFAULT_QUEUE_BYTES, DEFAULT_WRITE_TIMEOUT_MS, type QueueDepth } from './write-queue';

export interface CollectorOptions {
  store: Store;
  /** 4318 is the OTLP/HTTP default; 0 picks a free port. */
  port?: number;
  host?: string;
  /** Largest request body accepted, after decompression. */
  maxBodyBytes?: number;
  /** Bytes of requests waiting for the database before new ones get 429 (STREAMSCOPE_QUEUE_BYTES). */
  queueBytes?: number;
  /** Write transactions in flight at once; PGlite runs one at a time whatever this says. */
  writers?: number;
  /** Rows coalesced into one write transaction. */
  maxRowsPerWrite?: number;
  /** A write not committed by then is answered 503 (it may still commit; retries are idempotent). */
  writeTimeoutMs?: number;
  /**
   * Worker threads decoding and translating requests (STREAMSCOPE_DECODE_WORKERS, default
   * one per core but one, at least one); 0 decodes on the event loop.
   */
  decodeWorkers?: number;
  /**
   * Ingest API keys: required once any active key exists, or always with `requireKey`
   * (default from STREAMSCOPE_REQUIRE_API_KEY=true).
   */
  apiKeys?: ApiKeyVerifierOptions;
  /**
   * How long close() lets requests in flight finish before it closes their connections: a
   * client that never finishes sending would otherwise hold it for Node's request timeout.
   */
  shutdownTimeoutMs?: number;
}

/** Counters since start, for /healthz and self-monitoring. */
export interface CollectorStats {
  exportRequests: number;
  spansReceived: number;
  /** Spans dropped as invalid (partial success or 400). */
  spansRejected: number;
  /** Valid spans that were neither responses nor connections. */
  spansIgnored: number;
  responsesInserted: number;
  connectionsInserted: number;
  /** Requests answered 503 because the database write failed. */
  writeFailures: number;
  /** Requests answered 429 because the write queue was full. */
  queueFullRejections: number;
  /** Transactions committed; fewer than the requests stored when the queue coalesces them. */
  writeTransactions: number;
}

export interface Collector {
  readonly port: number;
  readonly url: string;
  readonly stats: Readonly<CollectorStats>;
  queueDepth(): QueueDepth;
  /** Stops accepting connections and resolves once in-flight requests are answered. */
  close(): Promise<void>;
}

export const DEFAULT_PORT = 4318;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
export const TRACES_PATH = '/v1/traces';
export const HEALTH_PATH = '/healthz';
/** Long enough for a restarting Postgres; exporters add their own backoff on top. */
export const RETRY_AFTER_SECONDS = 5;
/**
 * A full queue drains within a transaction or two. Kept short because the official
 * exporters give up when Retry-After passes their export timeout (10 s by default).
 */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;
const POSTGRES_WRITERS = 2;
const HEALTH_TIMEOUT_MS = 2000;
/** Longer than a write may take (DEFAULT_WRITE_TIMEOUT_MS), so a request waiting on one still gets its answer. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 15_000;

/** google.rpc.Code values used in error bodies. */
const RPC_CODE = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 };
const RPC_CODE_OF_STATUS: Record<number, number> = {
  401: RPC_CODE.UNAUTHENTICATED,
  429: RPC_CODE.RESOURCE_EXHAUSTED,
  400: RPC_CODE.INVALID_ARGUMENT,
  404: RPC_CODE.NOT_FOUND,
  405: RPC_CODE.UNIMPLEMENTED,
  413: RPC_CODE.RESOURCE_EXHAUSTED,
  415: RPC_CODE.INVALID_ARGUMENT,
  500: RPC_CODE.INTERNAL,
  503: RPC_CODE.UNAVAILABLE,
};

export async function startCollector(options: CollectorOptions): Promise<Collector> {
  const { store, port = DEFAULT_PORT, host = DEFAULT_HOST, maxBodyBytes = DEFAULT_MAX_BODY_BYTES } = options;
  const stats: CollectorStats = {
    exportRequests: 0, spansReceived: 0, spansRejected: 0, spansIgnored: 0,
    responsesInserted: 0, connectionsInserted: 0, writeFailures: 0, queueFullRejections: 0, writeTransactions: 0,
  };
  /** Requests answered 401 (kept out of CollectorStats, whose shape other modules build on). */
  let unauthorized = 0;
  /** When the latest transaction committed and the latest write failed (performance.now()), for /healthz. */
  let committedAt = -Infinity;
  let failedAt = -Infinity;
  const keys = createApiKeyVerifier(store, { requireKey: process.env.STREAMSCOPE_REQUIRE_API_KEY === 'true', ...options.apiKeys });
  if (store.driver === 'postgres') guardPostgresJsNullSocketWrite();
  const queue = createWriteQueue({
    store,
    maxBytes: options.queueBytes ?? wholeNumberFromEnv('STREAMSCOPE_QUEUE_BYTES', () => DEFAULT_QUEUE_BYTES, 1, 'a positive number of bytes'),
    writers: options.writers ?? (store.driver === 'postgres' ? POSTGRES_WRITERS : 1),
    maxRowsPerWrite: options.maxRowsPerWrite ?? DEFAULT_MAX_ROWS_PER_WRITE,
    writeTimeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
    onCommitted(written) {
      committedAt = performance.now();
      stats.writeTransactions += 1;
      stats.responsesInserted += written.responsesInserted;
      stats.connectionsInserted += written.connectionsInserted;
    },
  });
  const pool = createPreparePool({
    size: options.decodeWorkers
      ?? wholeNumberFromEnv('STREAMSCOPE_DECODE_WORKERS', defaultPrepareWorkers, 0, 'a number of threads (0 decodes on the event loop)'),
  });

  async function exportTraces(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.exportRequests += 1;
    // Errors are answered in the request's encoding once it is known to be one of ours.
    let encoding: OtlpEncoding = 'json';
    try {
      encoding = encodingOf(req.headers['content-type']);
      await authenticate(req);
      // Refused before the body is read, so a flood of retries costs no memory; the unread
      // body is why the connection closes.
      if (queue.full()) {
        res.setHeader('Connection', 'close');
        throw new QueueFullError(queue.depth().bytes, queue.depth().maxBytes);
      }
      const body = await readBody(req, maxBodyBytes);
      const place = queue.reserve(body.length);
      let batch;
      try {
        batch = await pool.prepare(body, encoding);
        stats.spansReceived += batch.received;
        stats.spansRejected += batch.rejected.length;
        // A request none of whose spans could be stored is bad input as a whole, and a
        // 400 says so more plainly than a partial success that accepted nothing.
        if (batch.rejected.length > 0 && batch.rejected.length === batch.received) {
          throw new RequestError(400, describeRejections(batch));
        }
        await place.submit(batch);
      } finally {
        place.release();
      }
      stats.spansIgnored += batch.ignored;
      const message = batch.rejected.length > 0 ? describeRejections(batch) : '';
      reply(res, 200, encoding, encodeExportTraceResponse(encoding, batch.rejected.length, message));
    } catch (error) {
      if (error instanceof WriteUnavailableError) noteWriteFailure();
      if (error instanceof QueueFullError) stats.queueFullRejections += 1;
      replyError(res, error, encoding);
    }
  }

  /** GenAI semantic-convention histograms merged into the rollups, for teams that send metrics only. */
  async function exportMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let encoding: OtlpEncoding = 'json';
    try {
      encoding = encodingOf(req.headers['content-type']);
      await authenticate(req);
      const result = await handleMetricsExport(store, await readBody(req, maxBodyBytes), encoding);
      reply(res, 200, encoding, encodeExportMetricsResponse(encoding, result.rejectedPoints, result.message));
    } catch (error) {
      if (error instanceof WriteUnavailableError) noteWriteFailure();
      replyError(res, error, encoding);
    }
  }

  async function prometheus(res: ServerResponse): Promise<void> {
    const body = Buffer.from(await renderPrometheusMetrics(store, stats, { queue: queue.depth() }));
    res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': body.length });
    res.end(body);
  }

  async function authenticate(req: IncomingMessage): Promise<void> {
    let check;
    try {
      check = await keys.check(presentedKey(req));
    } catch (error) {
      throw new WriteUnavailableError(`cannot read the API keys to check this request, retry later: ${(error as Error).message}`, { cause: error });
    }
    if (!check.ok) {
      unauthorized += 1;
      throw new RequestError(401, check.reason);
    }
  }

  function noteWriteFailure(): void {
    stats.writeFailures += 1;
    failedAt = performance.now();
  }

  /**
   * Whether the database answers. Transactions committing now, with no write failed since,
   * say so already: a probe would wait behind them for a connection, and under load could
   * time out with nothing wrong.
   */
  async function probeDatabase(): Promise<Record<string, unknown>> {
    const started = performance.now();
    if (committedAt > failedAt && started - committedAt < HEALTH_TIMEOUT_MS) return { ok: true, lastCommitMsAgo: started - committedAt };
    try {
      await withTimeout(store.db.execute(sql`select 1`), HEALTH_TIMEOUT_MS);
      return { ok: true, latencyMs: performance.now() - started };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  async function health(res: ServerResponse): Promise<void> {
    const database = await probeDatabase();
    const body = {
      status: database.ok ? 'ok' : 'unavailable',
      database: { driver: store.driver, location: store.location, ...database },
      queue: queue.depth(),
      stats: { ...stats, unauthorized },
    };
    reply(res, database.ok ? 200 : 503, 'json', Buffer.from(JSON.stringify(body)));
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === TRACES_PATH) {
      requireMethod(req, res, 'POST');
      return exportTraces(req, res);
    }
    if (path === METRICS_PATH) {
      requireMethod(req, res, 'POST');
      return exportMetrics(req, res);
    }
    if (path === HEALTH_PATH) {
      requireMethod(req, res, 'GET');
      return health(res);
    }
    if (path === PROMETHEUS_PATH) {
      requireMethod(req, res, 'GET');
      return prometheus(res);
    }
    throw new RequestError(404, `no route for ${path}: OTLP traces go to POST ${TRACES_PATH}, metrics to POST ${METRICS_PATH}`);
  }

  const server = createServer((req, res) => {
    // server.close() waits for every connection, and exporters under load keep theirs busy
    // with back-to-back requests: once it is called (the server no longer listening), each
    // connection carries its current request and is then closed, so shutdown ends under
    // steady load.
    if (!server.listening) res.setHeader('connection', 'close');
    route(req, res).catch((error: unknown) => replyError(res, error));
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // A port already in use must not leave the decoding threads keeping the process alive.
    await pool.close();
    throw error;
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    stats,
    queueDepth: queue.depth,
    async close() {
      const closed = new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      });
      // What is cut off was not acknowledged: its exporter retries, and the retry is idempotent.
      const deadline = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
      try {
        await closed;
      } finally {
        clearTimeout(deadline);
      }
      await pool.close();
      // last_used_at is a convenience: a database already gone must not fail the shutdown.
      await keys.close().catch(() => undefined);
    },
  };
}

/** A whole number of at least `minimum` from the environment, or `fallback` when unset. */
function wholeNumberFromEnv(name: string, fallback: () => number, minimum: number, meaning: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback();
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < minimum) throw new Error(`${name}=${raw} is not ${meaning}`);
  return value;
}

/** The key as OTLP exporters send it through their `headers` option. */
function presentedKey(req: IncomingMessage): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (bearer) return bearer[1];
  const header = req.headers['x-api-key'];
  return (Array.isArray(header) ? header[0] : header)?.trim() || undefined;
}

function requireMethod(req: IncomingMessage, res: ServerResponse, method: 'GET' | 'POST'): void {
  if (req.method === method) return;
  res.setHeader('Allow', method);
  throw new RequestError(405, `${req.url} accepts ${method}, not ${req.method}`);
}

function encodingOf(contentType: string | undefined): OtlpEncoding {
  const mediaType = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
  if (mediaType === CONTENT_TYPE.protobuf) return 'protobuf';
  if (mediaType === CONTENT_TYPE.json) return 'json';
  throw new RequestError(415, `unsupported Content-Type "${mediaType}": send ${CONTENT_TYPE.protobuf} or ${CONTENT_TYPE.json}`);
}

function replyError(res: ServerResponse, error: unknown, encoding: OtlpEncoding = 'json'): void {
  let status: number;
  if (error instanceof RequestError) status = error.status;
  else if (error instanceof WriteUnavailableError || error instanceof PrepareUnavailableError) status = 503;
  else if (error instanceof QueueFullError) status = 429;
  else status = 500;
  if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  if (status === 429) res.setHeader('Retry-After', String(QUEUE_FULL_RETRY_AFTER_SECONDS));
  // The body may be partly unread (too large, or refused before reading); closing the
  // connection is cheaper than draining it.
  if (status === 413 || status === 415) res.setHeader('Connection', 'close');
  const message = error instanceof Error ? error.message : String(error);
  reply(res, status, encoding, encodeStatus(encoding, RPC_CODE_OF_STATUS[status], message));
}

function reply(res: ServerResponse, status: number, encoding: OtlpEncoding, body: Buffer): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE[encoding], 'Content-Length': body.length });
  res.end(body);
}
