import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { RELATIVE_ACCURACY } from '../../histogram';
import { rollUpHours } from '../../hourly-rollups';
import { HOUR_MS, MINUTE_MS } from '../../time-buckets';
import { writeBatch } from '../../ingest';
import type { NewConnectionRow } from '../../schema';
import { compareTransports, type Comparison } from '../compare';
import { connectionsView, type ConnectionsView } from '../connections';
import type { DashboardFilter, PercentileSource } from '../filter';
import { overview } from '../overview';
import { syntheticResponse } from '../../../bench/support/workload';
import { describeEachDatabase } from '../../../test/support/databases';

const BASE = Date.UTC(2026, 10, 24, 6, 0);

/**
 * Connections over 16 hours with lifetimes from seconds to five hours (under the day the
 * raw reader looks back), of two services and three transports (one unnamed); some carried
 * nothing or did not say, some are reported still open, two of them opened days before.
 */
function connectionsOf(count: number): NewConnectionRow[] {
  return Array.from({ length: count }, (_, i) => {
    const openedAt = i < 2 ? BASE - (2 + i) * 24 * HOUR_MS : BASE + ((i * 7_919_000) % (16 * HOUR_MS)) + (i % 997);
    const lifetime = i < 2 || i % 29 === 0 ? null : ((i * 104_729) % (5 * HOUR_MS)) + 2_000;
    return {
      traceId: (0xc0000 + i).toString(16).padStart(32, '0'),
      spanId: (0xc0000 + i).toString(16).padStart(16, '0'),
      connectionId: `view-conn-${i}`,
      service: ['chat-api', 'search'][i % 2],
      transport: ['websocket', 'sse', null][i % 3],
      openedAt: new Date(openedAt),
      closedAt: lifetime === null ? null : new Date(openedAt + lifetime),
      dnsMs: i % 4 === 0 ? null : 2 + (i % 5),
      tcpMs: i % 4 === 0 ? null : 12 + (i % 7),
      tlsMs: 25 + (i % 9),
      connectMs: i % 4 === 0 ? 50 + (i % 3) : null,
      upgradeMs: i % 3 === 0 ? 14 + (i % 4) : null,
      responses: i % 11 === 0 ? null : i % 7 === 0 ? 0 : 1 + ((i * 37) % 140),
      status: 'ok',
    };
  });
}

/** Minute-aligned ranges, as the dashboard's rollup readers see time: by the minute (2 h), by the hour (14 h, from mid-hour), the whole day. */
const RANGES: Record<string, DashboardFilter> = {
  'two hours': { from: new Date(BASE + 3 * HOUR_MS + 37 * MINUTE_MS), to: new Date(BASE + 5 * HOUR_MS + 37 * MINUTE_MS) },
  'fourteen hours': { from: new Date(BASE + 23 * MINUTE_MS), to: new Date(BASE + 14 * HOUR_MS + 23 * MINUTE_MS) },
  'a day, one service': { from: new Date(BASE - 4 * HOUR_MS), to: new Date(BASE + 20 * HOUR_MS), service: 'search' },
};

const close = (a: number | null, b: number | null, tolerance = 1e-9) =>
  a === b || (a !== null && b !== null && Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b)));

function handshakeFigures({ models }: Comparison) {
  return models.flatMap((m) => m.transports.map((t) => ({
    model: m.model, transport: t.transport, overhead: t.values.connectionOverheadMs, perConnection: t.values.responsesPerConnection,
  })));
}

function assertSameConnectionsView(rolled: ConnectionsView, raw: ConnectionsView, what: string): void {
  assert.deepEqual(rolled.distribution, raw.distribution, what);
  assert.deepEqual(rolled.recent, raw.recent, what);
  assert.deepEqual(rolled.summary.map((s) => [s.transport, s.connections, s.open]), raw.summary.map((s) => [s.transport, s.connections, s.open]), what);
  for (const [i, summary] of rolled.summary.entries()) {
    const exact = raw.summary[i];
    for (const key of ['dnsMs', 'tcpMs', 'tlsMs', 'upgradeMs', 'connectMs', 'responsesPerConnection'] as const) {
      assert.ok(close(summary[key], exact[key]), `${what} ${summary.transport} ${key}: ${summary[key]} vs ${exact[key]}`);
    }
    for (const key of ['lifetimeP50Ms', 'lifetimeP99Ms'] as const) {
      assert.ok(close(summary[key], exact[key], RELATIVE_ACCURACY), `${what} ${summary.transport} ${key}: ${summary[key]} vs ${exact[key]}`);
    }
  }
}

async function assertRollupsReadAsRawRows(db: Parameters<typeof overview>[0]): Promise<void> {
  const read = (filter: DashboardFilter, source: PercentileSource) => Promise.all([
    overview(db, filter, source), compareTransports(db, filter, source), connectionsView(db, filter, 24, source),
  ]);
  let stillOpen = 0;
  for (const [name, filter] of Object.entries(RANGES)) {
    const [[overviewRolled, compareRolled, viewRolled], [overviewRaw, compareRaw, viewRaw]] = await Promise.all([read(filter, 'rollups'), read(filter, 'raw')]);
    const inUse = (o: typeof overviewRaw) => o.series.map((p) => [p.time, p.connectionsInUse]);
    assert.ok(overviewRaw.series.some((p) => p.connectionsInUse > 5), `${name}: connections in use`);
    assert.deepEqual(inUse(overviewRolled), inUse(overviewRaw), name);
    assert.equal(overviewRolled.tiles.connectionsInUse, overviewRaw.tiles.connectionsInUse, name);

    const [rolled, raw] = [handshakeFigures(compareRolled), handshakeFigures(compareRaw)];
    assert.ok(raw.some((t) => t.overhead !== null), `${name}: handshake cost`);
    assert.deepEqual(rolled.map((t) => [t.model, t.transport]), raw.map((t) => [t.model, t.transport]), name);
    for (const [i, t] of rolled.entries()) {
      assert.ok(close(t.overhead, raw[i].overhead) && close(t.perConnection, raw[i].perConnection), `${name} ${t.model} ${t.transport}: ${JSON.stringify([t, raw[i]])}`);
    }
    stillOpen += viewRaw.summary.reduce((total, s) => total + s.open, 0);
    assertSameConnectionsView(viewRolled, viewRaw, name);
  }
  assert.ok(stillOpen > 0, 'connections still open');
}

describeEachDatabase('connection figures through the connection rollups', (database) => {
  before(async () => {
    const responses = Array.from({ length: 400 }, (_, i) => syntheticResponse(i, new Date(BASE - 4 * HOUR_MS + i * 3 * MINUTE_MS), 9));
    const connections = connectionsOf(600);
    for (let i = 0; i < connections.length; i += 150) await writeBatch(database().store, { responses: [], connections: connections.slice(i, i + 150) });
    await writeBatch(database().store, { responses, connections: [] });
  });

  test('every view reads from the rollups the figures it reads from raw rows, by the minute and by the hour', async () => {
    const { store } = database();
    await assertRollupsReadAsRawRows(store.db);
    await rollUpHours(store, { now: new Date(BASE + 3 * 24 * HOUR_MS) });
    await assertRollupsReadAsRawRows(store.db);
  });
});
