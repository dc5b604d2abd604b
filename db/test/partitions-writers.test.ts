import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore, type Store } from '../client';
import { writeBatch } from '../ingest';
import { DAY_MS, ensurePartitions } from '../partitions';
import { responses, type NewResponseRow } from '../schema';
import { checkRollupsAgainstRawRows } from '../../bench/support/rollup-check';
import { syntheticResponse } from '../../bench/support/workload';
import { describeEachDatabase } from '../../test/support/databases';

const START = Date.UTC(2026, 10, 25, 23, 57);

/** Batches of 40 responses spread over 6 minutes around midnight, so they cross a day boundary. */
function batches(writer: number, count: number): NewResponseRow[][] {
  return Array.from({ length: count }, (_, b) =>
    Array.from({ length: 40 }, (_, i) => {
      const n = writer * 100_000 + b * 40 + i;
      return syntheticResponse(n, new Date(START + ((n * 7919) % 360_000)), 3);
    }));
}

async function assertRollupsMatchRawRows(store: Store, expectedResponses: number): Promise<void> {
  const check = await checkRollupsAgainstRawRows(store);
  assert.equal(check.rawRows, expectedResponses, 'every response stored once');
  assert.deepEqual(check.mismatches, []);
  assert.ok(check.rollupRows > 1);
}

describeEachDatabase('rollups with several writers', (database) => {
  test('two stores writing the same minutes at once, with retries crossing over, give the rollups of the raw rows', async (t) => {
    if (database().kind !== 'postgres') return t.skip('PGlite is one connection in one process');
    const { store, databaseUrl } = database();
    // One day has a partition and the next does not: rows go to both kinds.
    await ensurePartitions(store, { from: new Date(START), to: new Date(START) });
    const other = await openStore({ databaseUrl, maxConnections: 4 });
    try {
      const [mine, theirs] = [batches(1, 12), batches(2, 12)];
      // Each store also retries two of the other's batches, as an exporter would after a lost ack.
      await Promise.all([
        ...mine.map((rows) => writeBatch(store, { responses: rows, connections: [] })),
        ...theirs.map((rows) => writeBatch(other, { responses: rows, connections: [] })),
        ...theirs.slice(0, 2).map((rows) => writeBatch(store, { responses: rows, connections: [] })),
        ...mine.slice(0, 2).map((rows) => writeBatch(other, { responses: rows, connections: [] })),
      ]);
      await assertRollupsMatchRawRows(store, 24 * 40);
    } finally {
      await other.close();
    }
  });

  test('concurrent batches on one store give the rollups of the raw rows, across partitions and DEFAULT', async () => {
    const { store } = database();
    await ensurePartitions(store, { from: new Date(START - DAY_MS), to: new Date(START) });
    const before = (await store.db.select().from(responses)).length;
    await Promise.all(batches(3, 10).map((rows) => writeBatch(store, { responses: rows, connections: [] })));
    await assertRollupsMatchRawRows(store, before + 10 * 40);
  });
});
