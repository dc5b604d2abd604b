import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { openStore, type Store } from '../client';
import { rollUpHours } from '../hourly-rollups';
import { HOUR_MS } from '../time-buckets';
import { writeBatch } from '../ingest';
import { aggregateGroupings, type Aggregate } from '../queries/aggregate';
import { mergeRecords, readRollups, type RollupGroup, type RollupSums } from '../queries/rollup-rows';
import { applyRetention } from '../retention';
import { queryRows } from '../rows';
import { syntheticResponse } from '../../bench/support/workload';
import { describeEachDatabase } from '../../test/support/databases';

const HOUR = Date.UTC(2026, 10, 20, 9);
/** Long after the seeded hours: every one of them is complete. */
const LATER = new Date(HOUR + 48 * HOUR_MS);

/** `count` responses spread over [from, from + spanMs), numbered from `first`. */
function spread(first: number, count: number, from: number, spanMs: number) {
  return Array.from({ length: count }, (_, i) => syntheticResponse(first + i, new Date(from + Math.floor((i * spanMs) / count)), 5));
}

const hourKey = (r: RollupSums) => `${Math.floor(r.bucket / HOUR_MS) * HOUR_MS}\u0000${r.model}\u0000${r.transport}`;
const wide = { from: new Date(HOUR - 24 * HOUR_MS), to: LATER };

/** The hourly rows (once every hour is rolled, a wide range reads no minute) and the merge of each hour's minutes, keyed alike. */
async function hoursAndTheirMinutes(store: Store): Promise<{ hours: Map<string, RollupGroup>; minutes: Map<string, RollupGroup> }> {
  return {
    hours: mergeRecords(await readRollups(store.db, wide, { hours: true }), hourKey),
    minutes: mergeRecords(await readRollups(store.db, wide, { hours: false }), hourKey),
  };
}

async function assertHoursEqualTheirMinutes(store: Store): Promise<void> {
  const { hours, minutes } = await hoursAndTheirMinutes(store);
  assert.deepEqual([...hours.keys()].sort(), [...minutes.keys()].sort());
  for (const [key, minute] of minutes) {
    const hour = hours.get(key)!;
    const { generationSeconds: a, ...hourRest } = hour;
    const { generationSeconds: b, ...minuteRest } = minute;
    assert.ok(Math.abs(a - b) < 1e-6, key);
    assert.deepEqual(normalise(hourRest), normalise(minuteRest), key);
  }
}

/** The hour of the group; histograms compared by their counts, whatever the key order. */
function normalise(group: Omit<RollupGroup, 'generationSeconds'>) {
  const sorted = (counts: Map<number, number>) => [...counts].sort((a, b) => a[0] - b[0]);
  return { ...group, bucket: Math.floor(group.bucket / HOUR_MS) * HOUR_MS, ttftHist: sorted(group.ttftHist), itlHist: sorted(group.itlHist), durationHist: sorted(group.durationHist) };
}

const withoutFloatSums = (groups: Aggregate[][]) =>
  groups.map((aggregates) => aggregates.map(({ generationSeconds, ...rest }) => ({ ...rest, generationSeconds: Math.round(generationSeconds * 1e6) })));

describeEachDatabase('hourly rollups', (database) => {
  test('each hour is the merge of its minutes, late minutes included, and rerunning changes nothing', async () => {
    const { store } = database();
    await writeBatch(store, { responses: spread(0, 300, HOUR + 20 * 60_000, 3 * HOUR_MS), connections: [] });
    const first = await rollUpHours(store, { now: LATER });
    assert.deepEqual(first.hours, [HOUR, HOUR + HOUR_MS, HOUR + 2 * HOUR_MS, HOUR + 3 * HOUR_MS]);
    await assertHoursEqualTheirMinutes(store);

    // A late batch for an hour already rolled up: its minutes change, the next run recomputes the hour.
    await writeBatch(store, { responses: spread(10_000, 50, HOUR + HOUR_MS + 5 * 60_000, 10 * 60_000), connections: [] });
    const second = await rollUpHours(store, { now: LATER });
    assert.ok(second.hours.includes(HOUR + HOUR_MS));
    await assertHoursEqualTheirMinutes(store);
    const [{ responses }] = await queryRows<{ responses: number }>(store.db, sql`select sum(responses)::int as responses from rollups_1h`);
    assert.equal(responses, 350);

    await rollUpHours(store, { now: LATER });
    await assertHoursEqualTheirMinutes(store);
  });

  test('the hour in progress is left to the minutes', async () => {
    const { store } = database();
    const now = new Date(HOUR + 30 * HOUR_MS + 20 * 60_000);
    await writeBatch(store, { responses: spread(20_000, 30, HOUR + 30 * HOUR_MS, 15 * 60_000), connections: [] });
    const { hours } = await rollUpHours(store, { now });
    assert.ok(!hours.includes(HOUR + 30 * HOUR_MS));
  });

  test('two runners at once give the same hours as one', async () => {
    const { store, databaseUrl, kind } = database();
    await writeBatch(store, { responses: spread(30_000, 200, HOUR + 40 * HOUR_MS, 2 * HOUR_MS), connections: [] });
    // On Postgres a second store is a second collector; PGlite has one connection, so the runs queue.
    const other = kind === 'postgres' ? await openStore({ databaseUrl, maxConnections: 2 }) : store;
    try {
      await Promise.all([rollUpHours(store, { now: LATER }), rollUpHours(other, { now: LATER })]);
    } finally {
      if (other !== store) await other.close();
    }
    await assertHoursEqualTheirMinutes(store);
  });

  test('dashboard figures over a range with ragged ends equal those read from minutes alone', async () => {
    const { store } = database();
    const range = { from: new Date(HOUR + 17 * 60_000 + 12_000), to: new Date(HOUR + 3 * HOUR_MS + 41 * 60_000) };
    const groupings = [[], ['model', 'transport'], ['time']] as const;
    const options = { source: 'rollups' as const, stepSeconds: 3600 };
    // Hourly rows written above are removed, so the same figures come from minutes alone first.
    await store.db.execute(sql`delete from rollups_1h`);
    const fromMinutes = await aggregateGroupings(store.db, range, groupings, options);
    await rollUpHours(store, { now: LATER });
    const fromHours = await aggregateGroupings(store.db, range, groupings, options);
    assert.ok(fromMinutes[0][0].responses > 0);
    assert.deepEqual(withoutFloatSums(fromHours), withoutFloatSums(fromMinutes));
  });

  test('retention deletes hourly rows past the rollup cutoff', async () => {
    const { store } = database();
    await applyRetention(store, { rawDays: 400, rollupDays: 1, now: new Date(HOUR + 26 * HOUR_MS) });
    const [{ oldest }] = await queryRows<{ oldest: number }>(store.db, sql`select (extract(epoch from min(bucket)) * 1000)::float8 as oldest from rollups_1h`);
    assert.ok(Number(oldest) >= HOUR + 2 * HOUR_MS);
  });
});
