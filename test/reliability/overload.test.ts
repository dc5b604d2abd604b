/*
 * Sustained overload for 40 s: 48 exporters each keeping a 200-span request in flight,
 * about twice what a 1 MiB write queue admits at once. The collector sheds the excess
 * with 429 (the exporters wait and retry), its queue never passes its bound, its memory
 * stays flat, and every span it acknowledged is stored once. The collector runs as its
 * own process so its memory is measured apart from the load.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { freePort, useCollectorProcesses } from './support/collector-process';
import { checkStored, sleep, startLoad } from './support/load';

const SERVICE = 'overload-app';
const DURATION_MS = 40_000;
const QUEUE_BYTES = 1024 * 1024;
/** Resident memory may grow this much over its level once the load is on, not more. */
const MAX_RSS_GROWTH_BYTES = 96 * 1024 * 1024;

const collectors = useCollectorProcesses();

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

interface Health { queue: { bytes: number; requests: number }; stats: { queueFullRejections: number; writeTransactions: number; exportRequests: number } }

test('twice what the write queue admits, for 40 s: 429s shed the excess, memory stays flat, every acknowledged span stored once', async () => {
  const port = await freePort();
  const child = await collectors.start(port, { STREAMSCOPE_QUEUE_BYTES: String(QUEUE_BYTES) });
  const base = `http://127.0.0.1:${port}`;
  const load = startLoad({ url: `${base}/v1/traces`, service: SERVICE, workers: 48, spansPerExport: 200, timeoutMillis: 120_000 });
  const samples: { rss: number; queueBytes: number }[] = [];
  let health: Health | undefined;
  const started = Date.now();
  while (Date.now() - started < DURATION_MS) {
    await sleep(1000);
    health = (await (await fetch(`${base}/healthz`)).json()) as Health;
    samples.push({ rss: rssOf(child.pid!), queueBytes: health.queue.bytes });
  }
  const result = await load.stop();
  health = (await (await fetch(`${base}/healthz`)).json()) as Health;
  child.kill('SIGTERM');
  await once(child, 'exit');

  const stored = await checkStored(collectors.databaseUrl, SERVICE, result.acknowledged);
  // The first seconds fill pools, caches and the queue; growth is measured from there.
  const settled = samples.slice(5);
  const rssGrowth = Math.max(...settled.map((s) => s.rss)) - settled[0].rss;
  const figures = {
    test: 'overload', seconds: DURATION_MS / 1000, queueBytes: QUEUE_BYTES, exports: result.exports,
    spansAcknowledged: result.acknowledged.length, spansPerSecondStored: Math.round(result.acknowledged.length / (result.elapsedMs / 1000)),
    requests: health.stats.exportRequests, rejected429: health.stats.queueFullRejections, transactions: health.stats.writeTransactions,
    maxQueueBytes: Math.max(...samples.map((s) => s.queueBytes)), rssMiB: [settled[0].rss, Math.max(...settled.map((s) => s.rss))].map((b) => Math.round(b / 2 ** 20)),
    failedExports: result.failedExports, rows: stored.rows, lost: stored.lost, duplicates: stored.duplicates,
  };
  console.log(JSON.stringify(figures));
  assert.ok(health.stats.queueFullRejections > health.stats.exportRequests / 10, 'the load was not an overload: too few 429s');
  assert.ok(figures.maxQueueBytes <= QUEUE_BYTES, 'the queue held more than its bound');
  assert.ok(rssGrowth < MAX_RSS_GROWTH_BYTES, `resident memory grew by ${Math.round(rssGrowth / 2 ** 20)} MiB under steady load`);
  assert.equal(stored.lost, 0);
  assert.equal(stored.duplicates, 0);
});
