/*
 * Load for the fault tests: workers exporting response spans through the official
 * protobuf exporter (its own retries, honouring Retry-After) as fast as the collector
 * answers, remembering which span ids each acknowledged export carried.
 */
import type { ExportResult } from '@opentelemetry/core';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ATTR_KIND, GEN_AI, KIND, RESPONSE } from '@streamscope/instrumentation/contract';
import { sql } from 'drizzle-orm';
import { openStore, type Store } from '../../../db/client';
import { queryRows } from '../../../db/rows';
import { hrTimeAt, recentHrTime, recordSpans } from '../../../collector/test/support/spans';
import type { CollectorDatabase } from './collector-process';

export interface LoadOptions {
  /** The collector's /v1/traces URL. */
  url: string;
  service: string;
  workers: number;
  spansPerExport: number;
  /**
   * How long one export may keep retrying; longer than any fault the test injects. The
   * exporter also stops after five retries (backoff 1 s growing to 5 s, or Retry-After):
   * about 13 s of refused connections.
   */
  timeoutMillis: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  exports: number;
  /** Why each export that gave up did, as its exporter said: one entry per failed export. */
  failures: string[];
  /** Span ids of every export the collector acknowledged. */
  acknowledged: string[];
  /** Span ids of every export sent, acknowledged or not. */
  sent: string[];
  elapsedMs: number;
}

export interface Load {
  /** Span ids acknowledged so far. */
  acknowledgedCount(): number;
  /**
   * Whether every worker has finished an export it began at or after `time`
   * (performance.now()): no export still retrying began before then.
   */
  settledSince(time: number): boolean;
  /** Stops starting exports and resolves once the ones in flight have finished; may be called again. */
  stop(): Promise<LoadResult>;
}

export function startLoad(options: LoadOptions): Load {
  const result: LoadResult = { exports: 0, failures: [], acknowledged: [], sent: [], elapsedMs: 0 };
  const started = performance.now();
  let stopping = false;

  /** Per worker, when the export it last finished had begun. */
  const lastFinishedStart: number[] = Array.from({ length: options.workers }, () => -Infinity);

  async function worker(index: number): Promise<void> {
    const exporter = new OTLPTraceExporter({ url: options.url, timeoutMillis: options.timeoutMillis, headers: options.headers });
    try {
      for (let n = 0; !stopping; n++) {
        const start = recentHrTime();
        const spans = recordSpans({ resource: { [ATTR_SERVICE_NAME]: options.service } }, Array.from({ length: options.spansPerExport }, (_, i) => ({
          name: `chat ${index}.${n}.${i}`,
          startTime: start,
          endTime: hrTimeAt(start, 200 + i),
          attributes: {
            [ATTR_KIND]: KIND.RESPONSE,
            [GEN_AI.REQUEST_MODEL]: 'load-model',
            [RESPONSE.TTFT_MS]: 50 + i,
            [RESPONSE.TOKEN_OFFSETS_US]: [50_000 + i * 1000, 80_000 + i * 1000, 120_000 + i * 1000],
          },
        })));
        const ids = spans.map((span) => span.spanContext().spanId);
        result.sent.push(...ids);
        result.exports += 1;
        const exportStart = performance.now();
        const outcome = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
        if (outcome.code === ExportResultCode.SUCCESS) result.acknowledged.push(...ids);
        else result.failures.push(String(outcome.error ?? 'no error given'));
        lastFinishedStart[index] = exportStart;
      }
    } finally {
      await exporter.shutdown();
    }
  }

  const workers = Array.from({ length: options.workers }, (_, i) => worker(i));
  return {
    acknowledgedCount: () => result.acknowledged.length,
    settledSince: (time) => lastFinishedStart.every((start) => start >= time),
    async stop() {
      stopping = true;
      await Promise.all(workers);
      result.elapsedMs = performance.now() - started;
      return result;
    },
  };
}

export interface StoredCheck {
  /** Acknowledged span ids with no row. */
  lost: number;
  /** Span ids stored more than once. */
  duplicates: number;
  rows: number;
}

/**
 * Compares the acknowledged ids with the responses rows of the service, by span id, in the
 * database a collector process wrote. PGlite allows one opener per data directory: the
 * collector must have exited.
 */
export async function checkStored(database: CollectorDatabase, service: string, acknowledged: string[]): Promise<StoredCheck> {
  const store = await openStore(database.kind === 'pglite' ? { dataDir: database.dataDir } : { databaseUrl: database.url, maxConnections: 1 });
  try {
    return await checkStoredIn(store, service, acknowledged);
  } finally {
    await store.close();
  }
}

/** The same through a store the caller holds open. */
export async function checkStoredIn(store: Store, service: string, acknowledged: string[]): Promise<StoredCheck> {
  const rows = await queryRows<{ span_id: string; n: number }>(
    store.db,
    sql`select span_id, count(*)::int as n from responses where service = ${service} group by span_id`,
  );
  const stored = new Map(rows.map((r) => [r.span_id, r.n]));
  return {
    lost: acknowledged.filter((id) => !stored.has(id)).length,
    duplicates: rows.filter((r) => r.n > 1).length,
    rows: rows.reduce((sum, r) => sum + r.n, 0),
  };
}

/**
 * How long a fault test waits for the load, or the collector under it, to reach a mark:
 * generous, because the suite runs two files at once and the other may be loading the same
 * machine and Postgres.
 */
export const LOAD_WAIT_MS = 90_000;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
