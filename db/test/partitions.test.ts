import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { openStore } from '../client';
import { writeBatch } from '../ingest';
import {
  DAY_MS,
  ensurePartitions,
  listPartitions,
  partitionDay,
  partitionName,
  startPartitionMaintenance,
} from '../partitions';
import { queryRows } from '../rows';
import type { NewConnectionRow, NewResponseRow } from '../schema';
import { syntheticResponse } from '../../bench/support/workload';
import { describeEachDatabase } from '../../test/support/databases';

const DAY = Date.UTC(2026, 10, 20);
const at = (day: number, hour: number) => new Date(day + hour * 3_600_000);

function connection(i: number, openedAt: Date): NewConnectionRow {
  return { traceId: 'c'.repeat(32), spanId: i.toString(16).padStart(16, '0'), connectionId: `conn-${i}`, service: 'chat-api', openedAt, status: 'ok' };
}

/** Which table each stored row physically sits in, by span id. */
async function placement(db: Parameters<typeof queryRows>[0], table: 'responses' | 'connections'): Promise<Map<string, string>> {
  const rows = await queryRows<{ span_id: string; part: string }>(db, sql`
    select span_id, tableoid::regclass::text as part from ${sql.identifier(table)}`);
  return new Map(rows.map((r) => [r.span_id, r.part]));
}

test('partition names round-trip to their day', () => {
  assert.equal(partitionName('responses', DAY), 'responses_p20261120');
  assert.equal(partitionDay('responses_p20261120'), DAY);
  assert.equal(partitionDay('responses_default'), null);
});

describeEachDatabase('daily partitions', (database) => {
  test('the raw tables are range-partitioned with a DEFAULT partition', async () => {
    const rows = await queryRows<{ table: string; strategy: string; fallback: string }>(database().store.db, sql`
      select p.partrelid::regclass::text as table, p.partstrat as strategy, p.partdefid::regclass::text as fallback
      from pg_partitioned_table p order by 1`);
    assert.deepEqual([...rows], [
      { table: 'connections', strategy: 'r', fallback: 'connections_default' },
      { table: 'responses', strategy: 'r', fallback: 'responses_default' },
    ]);
  });

  test('ensurePartitions creates each missing day once, for every raw table', async () => {
    const { store } = database();
    const created = await ensurePartitions(store, { from: at(DAY, 5), to: at(DAY + 2 * DAY_MS, 1) });
    assert.deepEqual(created.sort(), [
      'connections_p20261120', 'connections_p20261121', 'connections_p20261122',
      'responses_p20261120', 'responses_p20261121', 'responses_p20261122',
    ]);
    assert.deepEqual(await ensurePartitions(store, { from: new Date(DAY), to: new Date(DAY + DAY_MS) }), []);
    assert.deepEqual([...(await listPartitions(store.db, 'responses')).keys()].sort(), [DAY, DAY + DAY_MS, DAY + 2 * DAY_MS]);
  });

  test('rows route to their day, and a day without a partition lands in DEFAULT', async () => {
    const { store } = database();
    const later = DAY + 5 * DAY_MS;
    const rows = [syntheticResponse(1, at(DAY, 0)), syntheticResponse(2, at(DAY + DAY_MS, 23.99)), syntheticResponse(3, at(later, 12))];
    const result = await writeBatch(store, { responses: rows, connections: [connection(1, at(DAY, 1)), connection(2, at(later, 1))] });
    assert.deepEqual(result, { responsesInserted: 3, connectionsInserted: 2 });
    const placed = await placement(store.db, 'responses');
    assert.equal(placed.get(rows[0].spanId), 'responses_p20261120');
    assert.equal(placed.get(rows[1].spanId), 'responses_p20261121');
    assert.equal(placed.get(rows[2].spanId), 'responses_default');
    assert.equal((await placement(store.db, 'connections')).get(connection(2, new Date()).spanId), 'connections_default');
  });

  test('a retry stores nothing twice, in a daily partition and in DEFAULT alike', async () => {
    const { store } = database();
    const rows = [syntheticResponse(10, at(DAY, 3)), syntheticResponse(11, at(DAY + 9 * DAY_MS, 3))];
    assert.equal((await writeBatch(store, { responses: rows, connections: [] })).responsesInserted, 2);
    assert.equal((await writeBatch(store, { responses: rows, connections: [] })).responsesInserted, 0);
    const [{ n }] = await queryRows<{ n: number }>(store.db, sql`select count(*)::int as n from responses where span_id in (${rows[0].spanId}, ${rows[1].spanId})`);
    assert.equal(n, 2);
  });

  test('creating the day of rows in DEFAULT moves them into it and keeps idempotency', async () => {
    const { store } = database();
    const day = DAY + 7 * DAY_MS;
    const rows: NewResponseRow[] = [20, 21, 22].map((i) => syntheticResponse(i, at(day, i - 18)));
    await writeBatch(store, { responses: rows, connections: [connection(3, at(day, 2))] });
    assert.deepEqual(await ensurePartitions(store, { from: new Date(day), to: new Date(day) }), ['connections_p20261127', 'responses_p20261127']);
    const placed = await placement(store.db, 'responses');
    for (const row of rows) assert.equal(placed.get(row.spanId), 'responses_p20261127');
    assert.equal((await placement(store.db, 'connections')).get(connection(3, new Date()).spanId), 'connections_p20261127');
    assert.equal((await writeBatch(store, { responses: rows, connections: [] })).responsesInserted, 0);
    const [{ rolled, raw }] = await queryRows<{ rolled: number; raw: number }>(store.db, sql`
      select (select sum(responses)::int from rollups_1m) as rolled, (select count(*)::int from responses) as raw`);
    assert.equal(rolled, raw);
  });

  test('maintenance prepares today and the next days, and adopts recent days found in DEFAULT', async () => {
    const { store } = database();
    const now = at(DAY + 30 * DAY_MS, 10);
    const late = syntheticResponse(40, new Date(now.getTime() - 3 * DAY_MS));
    await writeBatch(store, { responses: [late], connections: [] });
    const maintenance = startPartitionMaintenance({ store, intervalMs: 60_000, now: () => now, retention: false });
    await maintenance.ready;
    await maintenance.stop();
    const days = [...(await listPartitions(store.db, 'responses')).keys()];
    for (const offset of [-3, -1, 0, 1, 2]) assert.ok(days.includes(DAY + (30 + offset) * DAY_MS), `day ${offset}`);
    assert.equal((await placement(store.db, 'responses')).get(late.spanId), 'responses_p20261217');
  });

  test('several processes ensuring the same days at once create each partition once', async (t) => {
    if (database().kind !== 'postgres') return t.skip('PGlite has a single connection');
    const others = await Promise.all([1, 2, 3].map(() => openStore({ databaseUrl: database().databaseUrl })));
    try {
      const range = { from: new Date(DAY + 60 * DAY_MS), to: new Date(DAY + 63 * DAY_MS) };
      const created = (await Promise.all([database().store, ...others].map((s) => ensurePartitions(s, range)))).flat();
      assert.equal(created.length, 8);
      assert.equal(new Set(created).size, 8);
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });
});
