/*
 * `streamscope demo` as a user runs it on a clean data directory: responses from both
 * transports reach the store while it runs, and Ctrl-C stops everything and releases the
 * directory. Needs `next build` first (the test script runs it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { HEALTH_PATH, type CollectorStats } from '../../collector/index';
import { openStore } from '../../db/client';
import { queryRows } from '../../db/rows';
import { startCli, type CliProcess } from './cli-process';

let demo: CliProcess;

before(async () => {
  demo = await startCli('demo');
});

after(() => demo.cleanUp());

test('demo fills the store with both transports from a clean data directory and stops on SIGINT', async () => {
  // Starting Next.js and migrating PGlite comes first; on a busy machine that alone takes a while.
  // The collector, login and API key lines come in that order, each its own write to the pipe.
  await demo.until('the API key line', 90_000, () => demo.output().match(/ingest API key "demo [^"]+" \(ssk_\S*…\)/)?.[0]);
  const collectorUrl = demo.output().match(/OTLP\/HTTP collector: (\S+)\/v1\/traces/)?.[1];
  assert.ok(collectorUrl, demo.output());
  assert.match(demo.output(), /login: admin \/ \S+/);
  const stats = await demo.until('stored responses and connections', 20_000, async () => {
    const health = (await (await fetch(`${collectorUrl}${HEALTH_PATH}`)).json()) as { stats: CollectorStats };
    // SSE opens a connection per response, so connections land while the demo runs.
    return health.stats.responsesInserted >= 20 && health.stats.connectionsInserted > 0 ? health.stats : undefined;
  });
  assert.equal(stats.spansRejected, 0);

  assert.equal(await demo.interrupt(), 0, demo.output());

  // PGlite is single-opener: readable only because the demo released the directory.
  const store = await openStore({ dataDir: demo.pgliteDir });
  try {
    const rows = await queryRows<{ transport: string; responses: number; connections: number }>(
      store.db,
      sql`select r.transport, count(*)::int as responses,
                 (select count(*)::int from connections c where c.transport = r.transport) as connections
          from responses r where r.service = 'demo-chat' group by r.transport order by r.transport`,
    );
    assert.deepEqual(rows.map((r) => r.transport), ['sse', 'websocket']);
    // The spans came in with the demo's own key, which the demo revoked on the way out.
    const keys = await queryRows<{ revoked: boolean; used: boolean }>(
      store.db,
      sql`select revoked_at is not null as revoked, last_used_at is not null as used from api_keys`,
    );
    assert.deepEqual(keys, [{ revoked: true, used: true }]);
    for (const row of rows) {
      assert.ok(row.responses > 0, `${row.transport}: responses`);
      // WebSocket connection spans end when the sockets close: on SIGINT, before the collector stops.
      assert.ok(row.connections > 0, `${row.transport}: connections`);
    }
  } finally {
    await store.close();
  }
});
