import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../rows';
import { addCounts, type Counts } from '../rollup-rows';
import { describeEachDatabase } from '../../../test/support/databases';

/**
 * Histograms as rollups hold them: empty ones among them, keys below zero (values under
 * 1 ms), counts past 2^32, and keys far outside any latency's (added up apart).
 */
const HISTOGRAMS: Record<string, number>[] = [
  {},
  { '-345': 2, '0': 1, '70': 12_345_678_901, '385': 3 },
  {},
  { '-5000': 4, '70': 1, '-1': 7, '90000': 6 },
  { '9': 10, '90000': 1 },
  {},
];

const sorted = (counts: Counts) => [...counts].sort((a, b) => a[0] - b[0]);

describeEachDatabase('rollup histogram texts', (database) => {
  test('histograms concatenated as Postgres prints them add up to every count of every key', async () => {
    const { store } = database();
    const [{ text }] = await queryRows<{ text: string }>(
      store.db,
      sql`select string_agg(h::text, '' order by n) as text from jsonb_array_elements(${JSON.stringify(HISTOGRAMS)}::jsonb) with ordinality as t(h, n)`,
    );
    const expected: Counts = new Map();
    for (const histogram of HISTOGRAMS) for (const [key, n] of Object.entries(histogram)) expected.set(Number(key), (expected.get(Number(key)) ?? 0) + n);

    const counts: Counts = new Map();
    addCounts(counts, text);

    assert.deepEqual(sorted(counts), sorted(expected));
  });
});
