import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { bucketKey, bucketValue, RELATIVE_ACCURACY } from '../../histogram';
import { writeBatch } from '../../ingest';
import { aggregateResponses, type Percentiles } from '../aggregate';
import { compareTransports, improvement, LEVEL_PERCENT } from '../compare';
import { connectionsView } from '../connections';
import { MAX_CONNECTION_LIFETIME_MS } from '../connections-in-use';
import { COUNT_LIMIT, exploreResponses } from '../explorer';
import { syntheticResponse } from '../../../bench/support/workload';
import { filterOptions } from '../filter-options';
import { overview } from '../overview';
import { binGaps, responseDetail } from '../response';
import type { DashboardFilter } from '../filter';
import { describeEachDatabase } from '../../../test/support/databases';
import {
  BATCH_RESPONSES,
  HANDSHAKE,
  ITL_MS,
  exactQuantile,
  seedSpanId,
  seedTraceId,
  seedTraffic,
  SEED_MINUTES,
  SSE_RESPONSES,
  ttftMs,
  WS_CONNECTIONS,
  WS_RESPONSES,
  WS_UPGRADE_MS,
} from './seed';

const BASE = Date.UTC(2026, 10, 27, 10, 0);
const seeded = seedTraffic(BASE);
/** Exactly the seeded minutes: the raw and rollup readers see the same responses. */
const RANGE: DashboardFilter = { from: new Date(BASE), to: new Date(BASE + SEED_MINUTES * 60_000) };
const chat: DashboardFilter = { ...RANGE, service: 'chat-api' };

const sequence = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
const exact = (values: number[]): Percentiles => ({
  p50: exactQuantile(values, 0.5),
  p90: exactQuantile(values, 0.9),
  p99: exactQuantile(values, 0.99),
});

function assertClose(actual: Percentiles, expected: Percentiles, tolerance: number, what: string): void {
  for (const key of ['p50', 'p90', 'p99'] as const) {
    const a = actual[key];
    const e = expected[key];
    assert.ok(a !== null && e !== null, `${what} ${key} missing`);
    assert.ok(Math.abs(a - e) <= tolerance * e + 1e-9, `${what} ${key}: ${a} vs ${e}`);
  }
}

test('inter-token gaps are binned from the shortest to the longest, a stall alone on the right', () => {
  const bins = binGaps([10, 10, 11, 12, 10, 50], 4);
  assert.deepEqual(
    bins.map((b) => [b.fromMs, b.toMs, b.count]),
    [[10, 20, 5], [20, 30, 0], [30, 40, 0], [40, 50, 1]],
  );
  assert.deepEqual(binGaps([10, 10]), [{ fromMs: 10, toMs: 10, count: 2 }]);
});

test('a difference of one histogram bucket or less is level, neither better nor worse', () => {
  // Two adjacent buckets' values, as the rollups report percentiles.
  const oneBucket = (bucketValue(bucketKey(120) + 1) / bucketValue(bucketKey(120)) - 1) * 100;
  assert.ok(Math.abs(oneBucket - LEVEL_PERCENT) < 1e-6, `${oneBucket} %`);
  assert.deepEqual([improvement(oneBucket, 'lower'), improvement(-oneBucket, 'higher'), improvement(null, 'lower')], [null, null, null]);
  assert.deepEqual([improvement(-2.1, 'lower'), improvement(-2.1, 'higher'), improvement(38, 'higher')], [true, false, true]);
});

describeEachDatabase('dashboard queries', (database) => {
  before(async () => {
    await writeBatch(database().store, seeded);
  });

  test('raw TTFT percentiles equal the seeded closed-form values, inter-token ones within the histogram accuracy', async () => {
    const [ws] = await aggregateResponses(database().store.db, { ...RANGE, transport: 'websocket' }, { source: 'raw' });
    assert.equal(ws.responses, WS_RESPONSES);
    assert.deepEqual(ws.ttft, exact(sequence(WS_RESPONSES, ttftMs.websocket)));
    assertClose(ws.itl, { p50: ITL_MS.websocket, p90: ITL_MS.websocket, p99: ITL_MS.websocket }, RELATIVE_ACCURACY, 'itl');
  });

  test('rollup percentiles agree with raw ones within the histogram accuracy', async () => {
    const db = database().store.db;
    for (const by of [[], ['transport'], ['time', 'transport']] as const) {
      const raw = await aggregateResponses(db, RANGE, { by, source: 'raw', stepSeconds: 120 });
      const rolled = await aggregateResponses(db, RANGE, { by, source: 'rollups', stepSeconds: 120 });
      assert.equal(rolled.length, raw.length);
      raw.forEach((r, i) => {
        const what = `by ${by.join() || 'nothing'} #${i}`;
        assert.equal(rolled[i].responses, r.responses, what);
        assert.equal(rolled[i].outputTokens, r.outputTokens, what);
        assert.ok(Math.abs(rolled[i].generationSeconds - r.generationSeconds) < 1e-6, what);
        assertClose(rolled[i].ttft, r.ttft, RELATIVE_ACCURACY, `${what} ttft`);
        assertClose(rolled[i].itl, r.itl, RELATIVE_ACCURACY, `${what} itl`);
        assertClose(rolled[i].duration, r.duration, RELATIVE_ACCURACY, `${what} duration`);
      });
    }
  });

  test('overview tiles count responses, tokens and errors of the range', async () => {
    const { tiles, series, stepSeconds } = await overview(database().store.db, RANGE);
    const total = WS_RESPONSES + SSE_RESPONSES + BATCH_RESPONSES;
    assert.equal(tiles.responses, total);
    assert.equal(tiles.responsesPerSecond, total / (SEED_MINUTES * 60));
    assert.equal(tiles.errorRate, 10 / total);
    assert.equal(stepSeconds, 60);
    assert.equal(series.length, SEED_MINUTES);
    assert.equal(
      series.reduce((sum, p) => sum + p.responsesPerSecond * stepSeconds, 0),
      total,
    );
    // The last minute carried twenty responses over each transport: all four sockets, and
    // twenty SSE connections of one response each.
    assert.equal(tiles.connectionsInUse, WS_CONNECTIONS + 20);
  });

  test('a live range charts its last, unfinished step at the rate of the time it has run, not as a drop', async () => {
    const { store } = database();
    // Another day, so the seeded range keeps its figures: one response a second, up to now,
    // half a minute into the range's last step.
    const minute = BASE + 3 * 24 * 3600_000;
    const now = minute + 30_000;
    const steady = Array.from({ length: 210 }, (_, i) => ({ ...syntheticResponse(i, new Date(minute - 180_000 + i * 1000), 3), service: 'steady' }));
    await writeBatch(store, { responses: steady, connections: [] });
    const live: DashboardFilter = { from: new Date(minute - 300_000), to: new Date(now), service: 'steady' };
    for (const source of ['raw', 'rollups'] as const) {
      const { series, tiles } = await overview(store.db, live, source, now);
      const last = series.at(-1)!;
      assert.equal(last.time, minute, source);
      assert.deepEqual(series.slice(-4).map((p) => p.responsesPerSecond), [1, 1, 1, 1], source);
      assert.equal(last.tokensPerSecond, steady.slice(-30).reduce((sum, r) => sum + (r.outputTokens ?? 0), 0) / 30, source);
      assert.equal(tiles.responsesPerSecond, 210 / 330, source);
    }
    // A range that ended in the past, a quarter into a full minute, reads that minute whole
    // from the rollups: the rate is over the whole minute, from raw rows over its quarter.
    const past: DashboardFilter = { from: new Date(minute - 300_000), to: new Date(minute - 45_000), service: 'steady' };
    for (const source of ['raw', 'rollups'] as const) {
      const { series } = await overview(store.db, past, source, now + 3600_000);
      assert.equal(series.at(-1)!.responsesPerSecond, 1, source);
    }
  });

  test('a connection reported still open counts as in use however long ago it opened', async () => {
    const { store } = database();
    const opened = new Date(BASE - MAX_CONNECTION_LIFETIME_MS - 3 * 24 * 3600_000);
    await writeBatch(store, {
      responses: [],
      connections: [{ traceId: 'f'.repeat(32), spanId: 'f'.repeat(16), connectionId: 'long-lived', service: 'legacy-app', transport: 'websocket', openedAt: opened, closedAt: null, status: 'ok' }],
    });
    const { tiles, series } = await overview(store.db, { ...RANGE, service: 'legacy-app' });
    assert.equal(tiles.connectionsInUse, 1);
    assert.ok(series.every((point) => point.connectionsInUse === 1));
  });

  test('an hour reads the rollups, within the histogram accuracy of exact; up to 15 minutes reads raw rows', async () => {
    const db = database().store.db;
    const hour: DashboardFilter = { from: new Date(BASE + (SEED_MINUTES + 2) * 60_000 - 3600_000), to: new Date(BASE + (SEED_MINUTES + 2) * 60_000) };
    const [rolled, exactly] = await Promise.all([overview(db, hour), overview(db, { ...hour, from: new Date(hour.to.getTime() - 15 * 60_000) })]);
    assert.deepEqual([rolled.source, exactly.source], ['rollups', 'raw']);
    assert.equal(rolled.tiles.responses, exactly.tiles.responses);
    assertClose(rolled.tiles.ttft, exactly.tiles.ttft, RELATIVE_ACCURACY, 'ttft');
    assertClose(rolled.tiles.duration, exactly.tiles.duration, RELATIVE_ACCURACY, 'duration');
  });

  test('overview over a long range reads the rollups', async () => {
    const week = { from: new Date(BASE - 6 * 24 * 3600_000), to: new Date(BASE + 24 * 3600_000) };
    const result = await overview(database().store.db, week);
    assert.equal(result.source, 'rollups');
    assert.equal(result.stepSeconds, 3600);
    assert.equal(result.tiles.responses, WS_RESPONSES + SSE_RESPONSES + BATCH_RESPONSES);
  });

  test('compare states WebSocket against SSE on the same model', async () => {
    const { models } = await compareTransports(database().store.db, chat);
    assert.equal(models.length, 1);
    const [gpt] = models;
    assert.equal(gpt.candidate, 'websocket');
    assert.equal(gpt.baseline, 'sse');
    const ws = gpt.transports.find((t) => t.transport === 'websocket')!.values;
    const sse = gpt.transports.find((t) => t.transport === 'sse')!.values;
    const wsHandshake = HANDSHAKE.dnsMs + HANDSHAKE.tcpMs + HANDSHAKE.tlsMs + WS_UPGRADE_MS;
    assert.equal(ws.connectionOverheadMs, (wsHandshake * WS_CONNECTIONS) / WS_RESPONSES);
    assert.equal(sse.connectionOverheadMs, HANDSHAKE.dnsMs + HANDSHAKE.tcpMs + HANDSHAKE.tlsMs);
    assert.equal(ws.reuseRatio, (WS_RESPONSES - WS_CONNECTIONS) / WS_RESPONSES);
    assert.equal(sse.reuseRatio, 0);
    assert.equal(ws.responsesPerConnection, WS_RESPONSES / WS_CONNECTIONS);
    const ttftP50 = gpt.differences.find((d) => d.metric === 'ttftP50')!;
    const expected = (exactQuantile(sequence(WS_RESPONSES, ttftMs.websocket), 0.5) / exactQuantile(sequence(SSE_RESPONSES, ttftMs.sse), 0.5) - 1) * 100;
    assert.ok(Math.abs(ttftP50.percent! - expected) < 1e-9);
    assert.equal(ttftP50.improved, true);
  });

  test('compare calls a difference only when the samples show it: ten responses a side 9 % apart are not clear, four hundred are', async () => {
    const { store } = database();
    // Another day, so the seeded range keeps its figures. TTFT spread evenly over
    // 100–200 ms on WebSocket, 10 % later on SSE; each response's gaps all alike, spread
    // over 10–20 ms, 10 % longer on SSE. Each size is its own service.
    const day = BASE + 4 * 24 * 3600_000;
    const sample = (service: string, n: number) =>
      (['websocket', 'sse'] as const).flatMap((transport, t) =>
        Array.from({ length: n }, (_, i) => {
          const slower = transport === 'sse' ? 1.1 : 1;
          const [ttftMs, gapMs] = [slower * (100 + (100 * (i + 0.5)) / n), slower * (10 + (10 * (i + 0.5)) / n)];
          return {
            ...syntheticResponse(i + t * n, new Date(day + i * 100 + t * 50), 4),
            service,
            model: 'same-model',
            transport,
            ttftMs,
            tokenOffsetsUs: Array.from({ length: 20 }, (_, k) => Math.round((ttftMs + k * gapMs) * 1000)),
          };
        }),
      );
    await writeBatch(store, { responses: [...sample('few', 10), ...sample('many', 400)], connections: [] });
    const range = { from: new Date(day), to: new Date(day + 60_000) };
    for (const source of ['raw', 'rollups'] as const) {
      const differences = async (service: string) => (await compareTransports(store.db, { ...range, service }, source, day + 3600_000)).models[0].differences;
      const [few, many] = [await differences('few'), await differences('many')];
      for (const metric of ['ttftP50', 'itlP50'] as const) {
        const [a, b] = [few, many].map((d) => d.find((difference) => difference.metric === metric)!);
        assert.ok(a.percent! < -LEVEL_PERCENT && b.percent! < -LEVEL_PERCENT, `${source} ${metric}: ${a.percent} and ${b.percent} % apart, more than a bucket`);
        // Ten responses' 190 gaps are ten samples, not 190: as 190 they would be called apart.
        assert.deepEqual([a.significant, a.improved], [false, null], `${source} ${metric}`);
        assert.deepEqual([b.significant, b.improved], [true, true], `${source} ${metric}`);
      }
    }
  });

  test('compare counts responses per connection for sockets opened before the range', async () => {
    // The second half of the seeded traffic: every WebSocket response in it is reused.
    const laterHalf = { ...chat, from: new Date(BASE + (SEED_MINUTES / 2) * 60_000) };
    const [gpt] = (await compareTransports(database().store.db, laterHalf)).models;
    const ws = gpt.transports.find((t) => t.transport === 'websocket')!.values;
    assert.equal(ws.reuseRatio, 1);
    assert.equal(ws.responsesPerConnection, WS_RESPONSES / WS_CONNECTIONS);
  });

  test('explorer pages, sorts and finds a response by id or trace id', async () => {
    const db = database().store.db;
    const page = await exploreResponses(db, { filter: chat, sort: 'ttft', order: 'desc', page: 2, pageSize: 10 });
    assert.equal(page.total, WS_RESPONSES + SSE_RESPONSES);
    assert.equal(page.rows.length, 10);
    assert.equal(page.rows[0].ttftMs, ttftMs.sse(SSE_RESPONSES - 11));
    const byId = await exploreResponses(db, { filter: RANGE, search: 'resp_sse_42' });
    assert.deepEqual(byId.rows.map((r) => r.responseId), ['resp_sse_42']);
    const byTrace = await exploreResponses(db, { filter: RANGE, search: seedTraceId('websocket', 7).toUpperCase() });
    assert.deepEqual(byTrace.rows.map((r) => r.responseId), ['resp_websocket_7']);
    const errors = await exploreResponses(db, { filter: RANGE, status: 'error' });
    assert.equal(errors.total, 10);
    assert.equal(errors.totalCapped, false);
  });

  test('explorer search by a trace id prefix finds every trace that starts with it', async () => {
    const prefix = seedTraceId('websocket', 7).slice(0, 31);
    const found = await exploreResponses(database().store.db, { filter: RANGE, search: prefix, pageSize: 100 });
    assert.equal(found.total, 16);
    assert.ok(found.rows.every((r) => r.traceId.startsWith(prefix)));
  });

  test('explorer counts up to the cap and says there are more', async () => {
    const { store } = database();
    // Another day, so the seeded range keeps its figures.
    const day = BASE + 2 * 24 * 3600_000;
    const many = Array.from({ length: COUNT_LIMIT + 5 }, (_, i) => syntheticResponse(i, new Date(day + i * 100), 1));
    for (let i = 0; i < many.length; i += 2000) await writeBatch(store, { responses: many.slice(i, i + 2000), connections: [] });
    const range = { from: new Date(day), to: new Date(day + 3600_000) };
    const page = await exploreResponses(store.db, { filter: range });
    assert.equal(page.totalCapped, true);
    assert.equal(page.total, COUNT_LIMIT + 1);
    assert.equal(page.rows.length, 50);
    const exact = await exploreResponses(store.db, { filter: { ...range, to: new Date(day + 100 * 100) } });
    assert.deepEqual([exact.total, exact.totalCapped], [100, false]);
  });

  test('a response page has its token timeline, gaps and connection', async () => {
    const detail = await responseDetail(database().store.db, seedTraceId('websocket', 9), seedSpanId(9));
    assert.ok(detail);
    assert.equal(detail.tokens.length, 20);
    assert.equal(detail.tokens[0].offsetMs, ttftMs.websocket(9));
    assert.ok(detail.gapsMs.every((g) => g === ITL_MS.websocket));
    assert.deepEqual(detail.itlBins, [{ fromMs: ITL_MS.websocket, toMs: ITL_MS.websocket, count: 19 }]);
    assert.equal(detail.connection?.connectionId, 'ws-1');
    assert.equal(detail.connectionResponses, WS_RESPONSES / WS_CONNECTIONS);
  });

  test('connections view breaks down handshakes and reuse per transport', async () => {
    const view = await connectionsView(database().store.db, { from: new Date(BASE - 60_000), to: RANGE.to });
    const ws = view.summary.find((s) => s.transport === 'websocket')!;
    assert.equal(ws.connections, WS_CONNECTIONS);
    assert.equal(ws.upgradeMs, WS_UPGRADE_MS);
    assert.equal(ws.responsesPerConnection, WS_RESPONSES / WS_CONNECTIONS);
    const sse = view.summary.find((s) => s.transport === 'sse')!;
    assert.equal(sse.upgradeMs, null);
    assert.deepEqual(
      view.distribution.map((b) => [b.label, b.connections]),
      [['0–1', SSE_RESPONSES], ['2', 0], ['3–5', 0], ['6–20', 0], ['21–100', WS_CONNECTIONS], ['> 100', 0]],
    );
  });

  test('filter options list what the range holds', async () => {
    assert.deepEqual(await filterOptions(database().store.db, RANGE), {
      services: ['batch-worker', 'chat-api'],
      models: ['gpt-mini', 'gpt-test'],
      transports: ['http', 'sse', 'websocket'],
    });
  });
});
