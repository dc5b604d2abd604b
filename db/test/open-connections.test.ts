import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import type { Store } from '../client';
import { CONNECTION_SUMMED, computeConnectionRollups } from '../connection-rollups';
import { EXPIRED_STATUS, writeBatch, type ConnectionReport } from '../ingest';
import { expireOpenConnections, OPEN_CONNECTION_LEASE_MS } from '../open-connections';
import { startPartitionMaintenance } from '../partitions';
import { queryRows } from '../rows';
import { connections } from '../schema';
import { MINUTE_MS } from '../time-buckets';
import { describeEachDatabase } from '../../test/support/databases';

const OPENED = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 90 * MINUTE_MS;
let spans = 0;

/** A report of one WebSocket: open (closedAt null) after `responses`, or its closing span. */
function report(connectionId: string, responses: number, closedAfterMs: number | null, reportedOpen = true): ConnectionReport {
  spans++;
  return {
    traceId: spans.toString(16).padStart(32, '0'),
    spanId: spans.toString(16).padStart(16, '0'),
    connectionId,
    service: 'live-app',
    transport: 'websocket',
    openedAt: new Date(OPENED + 1234),
    closedAt: closedAfterMs === null ? null : new Date(OPENED + 1234 + closedAfterMs),
    dnsMs: 2, tcpMs: 10, tlsMs: 20, connectMs: 32, upgradeMs: 15,
    responses,
    closeCode: closedAfterMs === null ? null : 1000,
    status: 'ok',
    reportedOpen: closedAfterMs !== null && reportedOpen,
  };
}

type Sums = Record<string, number>;

/** Rollup rows as summed columns and histogram counts per key, without zeros. */
function normalised(rows: { key: string; sums: Sums; hist: Sums }[]): Map<string, Sums> {
  const result = new Map<string, Sums>();
  for (const { key, sums, hist } of rows) {
    const entries = [...Object.entries(sums), ...Object.entries(hist).map(([k, n]) => [`hist ${k}`, n] as const)]
      .map(([k, n]) => [k, Math.round(Number(n) * 1e6) / 1e6] as const)
      .filter(([, n]) => n !== 0);
    if (entries.length > 0) result.set(key, Object.fromEntries(entries));
  }
  return result;
}

/** The stored connection rollups equal those of the stored connection rows. */
async function assertRollupsMatchRows(store: Store, what: string): Promise<void> {
  const stored = await queryRows<Record<string, unknown>>(store.db, sql`select (extract(epoch from bucket) * 1000)::float8 as bucket, service, transport,
    ${sql.raw(CONNECTION_SUMMED.map((c) => `${c}::float8 as ${c}`).join(', '))}, lifetime_hist::text as lifetime_hist
    from connection_rollups_1m where service = 'live-app'`);
  const rows = await store.db.select().from(connections).where(eq(connections.service, 'live-app'));
  const expected = computeConnectionRollups(rows).map((acc) => ({ key: `${acc.bucket} ${acc.transport}`, sums: acc.sums as Sums, hist: acc.lifetimeHist }));
  const actual = stored.map((row) => ({
    key: `${Number(row.bucket)} ${String(row.transport)}`,
    sums: Object.fromEntries(CONNECTION_SUMMED.map((c) => [c, Number(row[c])])),
    hist: JSON.parse(String(row.lifetime_hist)) as Sums,
  }));
  assert.deepEqual(normalised(actual), normalised(expected), what);
}

async function rowsOf(store: Store, connectionId: string) {
  return store.db.select().from(connections).where(eq(connections.connectionId, connectionId));
}

describeEachDatabase('connections reported while open', (database) => {
  test('each report replaces the last, the closing span replaces the reports, and a late report is dropped', async () => {
    const { store } = database();
    await writeBatch(store, { responses: [], connections: [report('ws-a', 1, null)] });
    let [row] = await rowsOf(store, 'ws-a');
    assert.equal(row.closedAt, null, 'stored as open');
    await assertRollupsMatchRows(store, 'first report');

    // The next report, and an exporter retry of it in the same batch.
    const second = report('ws-a', 4, null);
    await writeBatch(store, { responses: [], connections: [second, second] });
    assert.deepEqual((await rowsOf(store, 'ws-a')).map((r) => r.responses), [4]);
    await assertRollupsMatchRows(store, 'second report');

    await writeBatch(store, { responses: [], connections: [report('ws-a', 6, 95_000)] });
    await writeBatch(store, { responses: [], connections: [report('ws-a', 5, null)] });
    const rows = await rowsOf(store, 'ws-a');
    assert.equal(rows.length, 1, 'one row per connection');
    [row] = rows;
    assert.equal(row.responses, 6);
    assert.equal(row.closeCode, 1000);
    assert.equal(row.closedAt?.getTime(), OPENED + 1234 + 95_000);
    await assertRollupsMatchRows(store, 'closed');
  });

  test('a connection whose reports stopped is closed at its last report, and its closing span still replaces it', async () => {
    const { store } = database();
    await writeBatch(store, { responses: [], connections: [report('ws-b', 2, null), report('ws-c', 1, null)] });
    assert.equal(await expireOpenConnections(store), 0, 'reports within the lease stay open');

    const later = new Date(Date.now() + OPEN_CONNECTION_LEASE_MS + 60_000);
    assert.equal(await expireOpenConnections(store, { now: later }), 2);
    const [expired] = await rowsOf(store, 'ws-b');
    assert.equal(expired.status, EXPIRED_STATUS);
    assert.ok(expired.closedAt && expired.closedAt.getTime() >= expired.openedAt.getTime());
    await assertRollupsMatchRows(store, 'expired');

    // An open report after the expiry changes nothing; the closing span replaces the row.
    await writeBatch(store, { responses: [], connections: [report('ws-b', 3, null)] });
    assert.equal((await rowsOf(store, 'ws-b'))[0].status, EXPIRED_STATUS);
    await writeBatch(store, { responses: [], connections: [report('ws-b', 9, 600_000)] });
    const rows = await rowsOf(store, 'ws-b');
    assert.deepEqual(rows.map((r) => [r.status, r.responses]), [['ok', 9]]);
    await assertRollupsMatchRows(store, 'closed after expiry');
  });

  test('the maintenance job closes silent connections between its runs, not only at them', async () => {
    const { store } = database();
    await writeBatch(store, { responses: [], connections: [report('ws-e', 1, null)] });
    const maintenance = startPartitionMaintenance({ store, intervalMs: 3_600_000, expiryIntervalMs: 20, retention: false });
    try {
      await maintenance.ready;
      assert.equal((await rowsOf(store, 'ws-e'))[0].closedAt, null, 'reported within the lease: still open');
      // Its reports stopped ten minutes ago.
      await store.db.execute(sql`update connections set ingested_at = now() - interval '10 minutes' where connection_id = 'ws-e'`);
      for (const deadline = Date.now() + 5_000; (await rowsOf(store, 'ws-e'))[0].status !== EXPIRED_STATUS; ) {
        assert.ok(Date.now() < deadline, 'not expired before the next maintenance run');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await maintenance.stop();
    }
    await assertRollupsMatchRows(store, 'expired between runs');
  });

  test('an open report stored beside its closing span is dropped by the maintenance pass', async () => {
    const { store } = database();
    // Two collectors at once: the report's writer did not see the closing span, nor it the report.
    await writeBatch(store, { responses: [], connections: [report('ws-d', 2, null)] });
    await writeBatch(store, { responses: [], connections: [report('ws-d', 3, 40_000, false)] });
    assert.equal((await rowsOf(store, 'ws-d')).length, 2);
    await expireOpenConnections(store);
    const rows = await rowsOf(store, 'ws-d');
    assert.deepEqual(rows.map((r) => r.responses), [3]);
    await assertRollupsMatchRows(store, 'after the pass');
  });
});
