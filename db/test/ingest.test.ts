import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { openStore } from '../client';
import { histogramCount, histogramQuantiles, RELATIVE_ACCURACY } from '../histogram';
import { writeBatch } from '../ingest';
import { queryRows } from '../rows';
import { connections, responses, rollups1m, type NewConnectionRow, type NewResponseRow } from '../schema';
import { describeEachDatabase } from '../../test/support/databases';

const MINUTE = Date.UTC(2026, 10, 27, 10, 0);

function response(i: number, overrides: Partial<NewResponseRow> = {}): NewResponseRow {
  const ttft = 100 + i;
  return {
    traceId: i.toString(16).padStart(32, '0'),
    spanId: i.toString(16).padStart(16, '0'),
    service: 'chat-api',
    provider: 'openai',
    model: 'gpt-test',
    api: 'openai.responses',
    transport: i % 2 ? 'websocket' : 'sse',
    connectionId: `conn-${i % 3}`,
    connectionReused: i > 2,
    responseId: `resp_${i}`,
    startTime: new Date(MINUTE + (i % 120) * 1000),
    ttftMs: ttft,
    durationMs: ttft + 200,
    inputTokens: 10,
    outputTokens: 20,
    outputChunks: 20,
    tokenOffsetsUs: [ttft * 1000, ttft * 1000 + 5000, ttft * 1000 + 15000],
    status: 'ok',
    outcome: 'completed',
    bytesReceived: 1000,
    attributes: { 'custom.key': 'v' },
    ...overrides,
  };
}

const connection: NewConnectionRow = {
  traceId: 'a'.repeat(32),
  spanId: 'b'.repeat(16),
  connectionId: 'conn-0',
  service: 'chat-api',
  transport: 'websocket',
  serverAddress: 'api.example',
  serverPort: 443,
  openedAt: new Date(MINUTE),
  closedAt: new Date(MINUTE + 60_000),
  dnsMs: 1.5,
  tcpMs: 20,
  tlsMs: 40,
  upgradeMs: 25,
  responses: 3,
  bytesSent: 10,
  bytesReceived: 20,
  framesSent: 1,
  framesReceived: 2,
  closeCode: 1000,
  status: 'ok',
};

describeEachDatabase('writeBatch', (database) => {
  test('stores every column and reads back what was written', async () => {
    const { db } = database().store;
    const row = response(1, { itlP50Ms: 5, itlP99Ms: 10, itlMaxMs: 10, itlMeanMs: 7.5, tokensPerSecond: 99.5 });
    const result = await writeBatch(database().store, { responses: [row], connections: [connection] });
    assert.deepEqual(result, { responsesInserted: 1, connectionsInserted: 1 });
    const [stored] = await db.select().from(responses).where(sql`span_id = ${row.spanId}`);
    const { ingestedAt: _ignored, ...rest } = stored;
    assert.deepEqual(rest, {
      ...row, requestModel: null, operation: null, ttfbMs: null, errorType: null, errorMessage: null, bytesSent: null,
    });
    const [conn] = await db.select().from(connections);
    assert.equal(conn.tlsMs, 40);
    assert.equal(conn.closedAt?.getTime(), MINUTE + 60_000);
  });

  test('text with quotes, backslashes, braces and the word NULL survives the array transport', async () => {
    const awkward = 'svc "quoted" \\back\\slash {a,b} NULL ünï';
    const row = response(77, { service: awkward, model: 'NULL', attributes: { note: 'a "b" \\ c' } });
    await writeBatch(database().store, { responses: [row], connections: [] });
    const [stored] = await database().store.db.select().from(responses).where(sql`span_id = ${row.spanId}`);
    assert.equal(stored.service, awkward);
    assert.equal(stored.model, 'NULL');
    assert.deepEqual(stored.attributes, row.attributes);
  });

  test('a retried batch stores nothing twice and counts nothing twice in rollups', async () => {
    const store = database().store;
    const batch = { responses: [2, 3, 4].map((i) => response(i)), connections: [] };
    assert.equal((await writeBatch(store, batch)).responsesInserted, 3);
    const before = await store.db.select().from(rollups1m);
    // A retry of the whole batch, and a batch that repeats a span inside itself.
    assert.equal((await writeBatch(store, batch)).responsesInserted, 0);
    assert.equal((await writeBatch(store, { responses: [response(5), response(5)], connections: [] })).responsesInserted, 1);
    const [{ n }] = await queryRows<{ n: number }>(store.db, sql`select sum(responses)::int as n from rollups_1m`);
    const [{ raw }] = await queryRows<{ raw: number }>(store.db, sql`select count(*)::int as raw from responses`);
    assert.equal(n, raw);
    assert.ok(before.length > 0);
  });

  test('rollups merge concurrent writers into the same minute and match the raw rows', async () => {
    const store = database().store;
    const batches = Array.from({ length: 8 }, (_, b) => ({
      responses: Array.from({ length: 50 }, (_, i) => response(1000 + b * 50 + i)),
      connections: [],
    }));
    await Promise.all(batches.map((batch) => writeBatch(store, batch)));
    const raw = await queryRows<{ transport: string; n: number; output: number; p90: number }>(store.db, sql`
      select transport, count(*)::int as n, sum(output_tokens)::int as output,
             percentile_disc(0.9) within group (order by ttft_ms) as p90
      from responses where service = 'chat-api' group by transport order by transport`);
    const rolled = await queryRows<{ transport: string; n: number; output: number; ttft: Record<string, number>; itl: Record<string, number> }>(store.db, sql`
      select transport, sum(responses)::int as n, sum(output_tokens)::int as output,
             streamscope_hist_sum(ttft_hist) as ttft, streamscope_hist_sum(itl_hist) as itl
      from rollups_1m where service = 'chat-api' group by transport order by transport`);
    assert.equal(rolled.length, raw.length);
    rolled.forEach((r, i) => {
      assert.equal(r.n, raw[i].n);
      assert.equal(r.output, raw[i].output);
      assert.equal(histogramCount(r.ttft), raw[i].n);
      // Two gaps per response (three offsets each).
      assert.equal(histogramCount(r.itl), 2 * raw[i].n);
      const [p90] = histogramQuantiles(r.ttft, [0.9]);
      assert.ok(Math.abs(p90! - raw[i].p90) / raw[i].p90 <= RELATIVE_ACCURACY, `${p90} vs ${raw[i].p90}`);
    });
  });

  test('two separate clients writing at once never overwrite each other', async (t) => {
    if (database().kind !== 'postgres') return t.skip('PGlite has a single connection');
    const other = await openStore({ databaseUrl: database().databaseUrl });
    try {
      await Promise.all([
        writeBatch(database().store, { responses: Array.from({ length: 200 }, (_, i) => response(5000 + i)), connections: [] }),
        writeBatch(other, { responses: Array.from({ length: 200 }, (_, i) => response(6000 + i)), connections: [] }),
      ]);
      const [{ rolled, raw }] = await queryRows<{ rolled: number; raw: number }>(database().store.db, sql`
        select (select sum(responses)::int from rollups_1m) as rolled, (select count(*)::int from responses) as raw`);
      assert.equal(rolled, raw);
    } finally {
      await other.close();
    }
  });
});
