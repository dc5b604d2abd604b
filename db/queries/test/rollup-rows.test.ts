import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { addToHistogram, histogramQuantiles } from '../../histogram';
import { rollUpHours } from '../../hourly-rollups';
import { HOUR_MS } from '../../time-buckets';
import { writeBatch } from '../../ingest';
import { queryRows } from '../../rows';
import type { HistogramBuckets } from '../../schema';
import { aggregateGroupings, QUANTILES } from '../aggregate';
import { addCounts, type Counts } from '../rollup-rows';
import { syntheticResponse } from '../../../bench/support/workload';
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

const DAY = Date.UTC(2026, 10, 10);
/** 200 responses, one every 7 minutes from 00:00:13: every hour of the day holds some. */
const RESPONSES = Array.from({ length: 200 }, (_, i) => syntheticResponse(i, new Date(DAY + i * 7 * 60_000 + 13_000), 7));

function countBy<T>(values: readonly T[], keyOf: (value: T) => string | number): [string | number, number][] {
  const counts = new Map<string | number, number>();
  for (const value of values) counts.set(keyOf(value), (counts.get(keyOf(value)) ?? 0) + 1);
  return [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

describeEachDatabase('rollup reads', (database) => {
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

  test('a day from the rollups counts every response once, by the hour, per transport and in all', async () => {
    const { store } = database();
    await writeBatch(store, { responses: RESPONSES, connections: [] });
    await rollUpHours(store, { now: new Date(DAY + 2 * 24 * HOUR_MS) });
    // The range starts and ends mid-hour, so both its ends are read by the minute.
    const range = { from: new Date(DAY + 30 * 60_000), to: new Date(DAY + 23 * HOUR_MS + 30 * 60_000) };
    const inRange = RESPONSES.filter((r) => r.startTime >= range.from && r.startTime < range.to);

    const [byHour, byTransport, [total]] = await aggregateGroupings(store.db, range, [['time'], ['transport'], []], { source: 'rollups', stepSeconds: 3600 });

    assert.deepEqual(byHour.map((a) => [a.time, a.responses]), countBy(inRange, (r) => Math.floor(r.startTime.getTime() / HOUR_MS) * HOUR_MS));
    assert.deepEqual(byTransport.map((a) => [a.transport, a.responses]), countBy(inRange, (r) => r.transport ?? ''));
    assert.equal(total.responses, inRange.length);
    const ttft: HistogramBuckets = {};
    for (const r of inRange) addToHistogram(ttft, r.ttftMs!);
    assert.deepEqual([total.ttft.p50, total.ttft.p90, total.ttft.p99], histogramQuantiles(ttft, QUANTILES));
  });
});
