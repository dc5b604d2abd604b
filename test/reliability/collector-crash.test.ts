/*
 * kill -9 of a collector process mid-load, twice, each time restarted on the same port
 * and database, while the official exporter keeps sending and retrying, on Postgres and on
 * PGlite (a data directory on disk, reopened by the restarted process, as `npm start` runs): every span an exporter saw
 * acknowledged is in the database exactly once (compared by span id). A 200 is sent only
 * after the commit, so a crash can lose an answer but never an acknowledged row, and the
 * retry of an unanswered request is absorbed by the (trace id, span id) idempotency.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { freePort, useCollectorProcesses } from './support/collector-process';
import { checkStored, LOAD_WAIT_MS, sleep, startLoad, until } from './support/load';

const SERVICE = 'crash-app';
const CRASHES = 2;

async function crash(process_: ChildProcess): Promise<void> {
  const exited = once(process_, 'exit');
  process_.kill('SIGKILL');
  await exited;
}

for (const kind of ['postgres', 'pglite'] as const) describe(`collector crash [${kind}]`, () => {
  const collectors = useCollectorProcesses(kind);

  test(`kill -9 of the collector mid-load (${CRASHES} times), restarted: every acknowledged span stored exactly once`, async (t) => {
    const port = await freePort();
    let child = await collectors.start(port);
    const load = startLoad({ url: `http://127.0.0.1:${port}/v1/traces`, service: SERVICE, workers: 8, spansPerExport: 50, timeoutMillis: 60_000 });
    t.after(() => load.stop());
    const downtimes: number[] = [];
    let restartedAt = -Infinity;
    for (let i = 0; i < CRASHES; i++) {
      const before = load.acknowledgedCount();
      // Each crash meets exports begun since the last restart: one retrying through two
      // outages could run out of the exporter's five retries, whatever its timeout.
      await until(() => load.acknowledgedCount() >= before + 2000 && load.settledSince(restartedAt), LOAD_WAIT_MS, 'acknowledged spans before the crash');
      await crash(child);
      const killedAt = performance.now();
      child = await collectors.start(port);
      restartedAt = performance.now();
      downtimes.push(Math.round(restartedAt - killedAt));
    }
    const afterRestart = load.acknowledgedCount();
    await until(() => load.acknowledgedCount() >= afterRestart + 2000, LOAD_WAIT_MS, 'acknowledged spans after the last restart');
    await sleep(500);
    const result = await load.stop();
    child.kill('SIGTERM');
    await once(child, 'exit');

    const stored = await checkStored(collectors.database, SERVICE, result.acknowledged);
    console.log(JSON.stringify({
      test: 'collector-crash', database: kind, crashes: CRASHES, downtimeMs: downtimes, exports: result.exports, failedExports: result.failures.length, failures: result.failures,
      spansSent: result.sent.length, spansAcknowledged: result.acknowledged.length, rows: stored.rows,
      lost: stored.lost, duplicates: stored.duplicates, elapsedMs: Math.round(result.elapsedMs),
    }));
    assert.equal(stored.lost, 0);
    assert.equal(stored.duplicates, 0);
    assert.deepEqual(result.failures, [], 'an export gave up although each outage was shorter than its retries');
    // Nothing was lost by the exporters either: every span sent was acknowledged in the end.
    assert.equal(result.acknowledged.length, result.sent.length);
  });
});
