/*
 * Sustained overload of a collector process: 48 exporters each keeping a 200-span request
 * in flight, about twice what a 1 MiB write queue admits at once, while the collector's
 * resident memory is sampled every second and its queue polled. Shared by the overload
 * test (short, asserts behaviour) and bench/overload (a minute or more, reports figures).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { freePort, startCollectorProcess, type CollectorDatabase } from './collector-process';
import { checkStored, sleep, startLoad } from './load';

export const OVERLOAD_QUEUE_BYTES = 1024 * 1024;
/** Samples taken before this (pools, caches and the queue filling up) do not count as growth. */
const WARM_UP_SAMPLES = 5;

export interface OverloadOptions {
  database: CollectorDatabase;
  seconds: number;
  workers?: number;
  spansPerExport?: number;
}

export interface OverloadSample {
  /** Seconds since the load started. */
  s: number;
  rssMiB: number;
}

export interface OverloadFigures {
  database: CollectorDatabase['kind'];
  seconds: number;
  queueBytes: number;
  workers: number;
  spansPerExport: number;
  requests: number;
  rejected429: number;
  transactions: number;
  exports: number;
  failedExports: number;
  spansAcknowledged: number;
  spansPerSecondStored: number;
  rows: number;
  lost: number;
  duplicates: number;
  /** The most the queue held among `queueSamples` polls of /healthz. */
  queuePeakBytes: number;
  queueSamples: number;
  /** Resident memory growth from the end of the warm-up to the highest sample. */
  rssGrowthMiB: number;
  samples: OverloadSample[];
}

interface Health { queue: { bytes: number }; stats: { queueFullRejections: number; writeTransactions: number; exportRequests: number } }

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

export async function runOverload(options: OverloadOptions): Promise<OverloadFigures> {
  const { database, seconds, workers = 48, spansPerExport = 200 } = options;
  const service = `overload-${database.kind}`;
  const port = await freePort();
  const child = await startCollectorProcess(database, port, { STREAMSCOPE_QUEUE_BYTES: String(OVERLOAD_QUEUE_BYTES) });
  const base = `http://127.0.0.1:${port}`;
  const health = async () => (await (await fetch(`${base}/healthz`)).json()) as Health;
  const load = startLoad({ url: `${base}/v1/traces`, service, workers, spansPerExport, timeoutMillis: 120_000 });
  try {
    // Memory is read from /proc every second; the queue from /healthz, which on PGlite is
    // answered only between writes, so it is polled alongside rather than waited for.
    const samples: { s: number; rss: number }[] = [];
    const queue = { peakBytes: 0, samples: 0, polling: false, error: undefined as unknown };
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      await sleep(1000);
      samples.push({ s: Math.round((performance.now() - started) / 1000), rss: rssOf(child.pid!) });
      if (queue.polling) continue;
      queue.polling = true;
      health().then(
        (h) => {
          queue.peakBytes = Math.max(queue.peakBytes, h.queue.bytes);
          queue.samples += 1;
        },
        (error: unknown) => (queue.error = error),
      ).finally(() => (queue.polling = false));
    }
    if (queue.error) throw queue.error;
    const result = await load.stop();
    const { stats } = await health();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;

    const stored = await checkStored(database, service, result.acknowledged);
    const settled = samples.slice(WARM_UP_SAMPLES);
    return {
      database: database.kind, seconds, queueBytes: OVERLOAD_QUEUE_BYTES, workers, spansPerExport,
      requests: stats.exportRequests, rejected429: stats.queueFullRejections, transactions: stats.writeTransactions,
      exports: result.exports, failedExports: result.failures.length,
      spansAcknowledged: result.acknowledged.length, spansPerSecondStored: Math.round(result.acknowledged.length / (result.elapsedMs / 1000)),
      rows: stored.rows, lost: stored.lost, duplicates: stored.duplicates,
      queuePeakBytes: queue.peakBytes, queueSamples: queue.samples,
      rssGrowthMiB: mib(Math.max(...settled.map((s) => s.rss)) - settled[0].rss),
      samples: samples.map((s) => ({ s: s.s, rssMiB: mib(s.rss) })),
    };
  } finally {
    // On a failure the load is still running: its workers would keep the process alive.
    await load.stop();
    child.kill('SIGKILL');
  }
}
