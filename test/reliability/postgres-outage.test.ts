/*
 * Postgres goes away mid-load and comes back. While it is away the collector answers 503
 * with Retry-After and /healthz says so; when it returns, writes resume with no restart;
 * every span an exporter saw acknowledged is stored exactly once.
 *
 * The outage is made on a database of its own, never the machine's server: new
 * connections are refused (ALLOW_CONNECTIONS false) and the open ones terminated.
 * PGlite runs inside the collector's process and cannot become unreachable on its own.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import postgres from 'postgres';
import { RETRY_AFTER_SECONDS } from '../../collector/server';
import { useCollectorOnOwnPostgres } from '../../collector/test/support/collector';
import { ADMIN_URL } from '../support/databases';
import { attribute, jsonSpan, post, PROTOBUF, protobufRequest } from '../../collector/test/support/otlp-requests';
import { ATTR_KIND, KIND } from '@streamscope/instrumentation/contract';
import { checkStored, LOAD_WAIT_MS, sleep, startLoad, until } from './support/load';

const SERVICE = 'outage-app';
const OUTAGE_MS = 4000;
const probeSpan = () => jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE)] });

const running = useCollectorOnOwnPostgres(4);
const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });

after(() => admin.end());

async function setAvailable(available: boolean): Promise<void> {
  const name = new URL(running().databaseUrl).pathname.slice(1);
  await admin.unsafe(`alter database ${name} allow_connections ${available}`);
  if (!available) await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
}

test('Postgres unavailable mid-load: 503 + Retry-After while down, recovery without restart, no acknowledged span lost or doubled', async (t) => {
  const { collector, databaseUrl } = running();
  const load = startLoad({ url: `${collector.url}/v1/traces`, service: SERVICE, workers: 8, spansPerExport: 50, timeoutMillis: 60_000 });
  t.after(() => load.stop());
  await until(() => load.acknowledgedCount() >= 2000, LOAD_WAIT_MS, 'load to get going');

  await setAvailable(false);
  const downAt = performance.now();
  const failuresBefore = collector.stats.writeFailures;
  // A probe of our own shows what the exporters are told while it is down.
  let probe: Response | undefined;
  await until(async () => {
    probe = await post(collector.url, protobufRequest(SERVICE, [probeSpan()]), PROTOBUF);
    return probe.status === 503;
  }, LOAD_WAIT_MS, 'a 503 while the database is down');
  assert.equal(probe!.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
  assert.equal((await fetch(`${collector.url}/healthz`)).status, 503);
  await sleep(OUTAGE_MS - (performance.now() - downAt));
  const acknowledgedWhileDown = load.acknowledgedCount();

  await setAvailable(true);
  const upAt = performance.now();
  await until(() => load.acknowledgedCount() > acknowledgedWhileDown, LOAD_WAIT_MS, 'writes to resume');
  const recoveryMs = performance.now() - upAt;
  const health = await fetch(`${collector.url}/healthz`);
  assert.equal(health.status, 200, await health.text());
  await sleep(2000);

  const result = await load.stop();
  const stored = await checkStored({ kind: 'postgres', url: databaseUrl }, SERVICE, result.acknowledged);
  console.log(JSON.stringify({
    test: 'postgres-outage', outageMs: OUTAGE_MS, exports: result.exports, failedExports: result.failures.length, failures: result.failures,
    spansAcknowledged: result.acknowledged.length, writeFailures503: collector.stats.writeFailures - failuresBefore,
    firstAckAfterRecoveryMs: Math.round(recoveryMs), rows: stored.rows, lost: stored.lost, duplicates: stored.duplicates,
    elapsedMs: Math.round(result.elapsedMs),
  }));
  assert.ok(collector.stats.writeFailures > failuresBefore);
  assert.deepEqual(result.failures, [], 'an export gave up although the outage was shorter than its timeout');
  assert.equal(stored.lost, 0);
  assert.equal(stored.duplicates, 0);
});
