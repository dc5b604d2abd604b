import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { openStore, type Store } from '../client';
import { rollUpHours } from '../hourly-rollups';
import { MIGRATIONS_FOLDER } from '../migrate';
import { HOUR_MS } from '../time-buckets';
import { writeBatch } from '../ingest';
import { aggregateGroupings, type Aggregate } from '../queries/aggregate';
import type { DashboardFilter } from '../queries/filter';
import { DIMENSIONS, type Dimension } from '../queries/group-keys';
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

/**
 * The hourly rows (once every hour is rolled, a wide range reads no minute) and the merge of
 * each hour's minutes, keyed alike: per model and transport from rollups_1h, and for `by`
 * time alone from the hours' totals (rollups_1h_totals).
 */
async function hoursAndTheirMinutes(store: Store, by: readonly Dimension[]): Promise<{ hours: Map<string, RollupGroup>; minutes: Map<string, RollupGroup> }> {
  return {
    hours: mergeRecords(await readRollups(store.db, wide, { hours: true, by }), hourKey),
    minutes: mergeRecords(await readRollups(store.db, wide, { hours: false, by }), hourKey),
  };
}

async function assertHoursEqualTheirMinutes(store: Store): Promise<void> {
  for (const by of [DIMENSIONS, ['time'] as const]) {
    const { hours, minutes } = await hoursAndTheirMinutes(store, by);
    assert.deepEqual([...hours.keys()].sort(), [...minutes.keys()].sort());
    for (const [key, minute] of minutes) {
      const hour = hours.get(key)!;
      const { generationSeconds: a, ...hourRest } = hour;
      const { generationSeconds: b, ...minuteRest } = minute;
      assert.ok(Math.abs(a - b) < 1e-6, key);
      assert.deepEqual(normalise(hourRest), normalise(minuteRest), key);
    }
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
    // The compare's groupings read rollups_1h; the overview's (time alone) the hours' totals.
    const readings = [[[], ['model', 'transport'], ['time']], [[], ['time']]] as const;
    const options = { source: 'rollups' as const, stepSeconds: 3600 };
    // Hourly rows written above are removed, so the same figures come from minutes alone first.
    await store.db.execute(sql`delete from rollups_1h`);
    await store.db.execute(sql`delete from rollups_1h_totals`);
    const fromMinutes = await Promise.all(readings.map((groupings) => aggregateGroupings(store.db, range, groupings, options)));
    await rollUpHours(store, { now: LATER });
    const fromHours = await Promise.all(readings.map((groupings) => aggregateGroupings(store.db, range, groupings, options)));
    assert.ok(fromMinutes[0][0][0].responses > 0);
    assert.deepEqual(fromHours.map(withoutFloatSums), fromMinutes.map(withoutFloatSums));
  });

  test('a read of everything grouped by time alone takes whole hours from their totals, any other read from rollups_1h', async () => {
    const { store } = database();
    const responsesRead = async (filter: DashboardFilter, by: readonly Dimension[]) =>
      (await readRollups(store.db, filter, { hours: true, by })).reduce((n, record) => n + record.responses, 0);
    const [service] = await queryRows<{ service: string }>(store.db, sql`select service from rollups_1h limit 1`);
    const filtered = { ...wide, service: service.service };
    const before = [await responsesRead(wide, ['time']), await responsesRead(wide, DIMENSIONS), await responsesRead(filtered, ['time'])];
    assert.equal(before[0], before[1]);
    // A mark on one hour's total shows which table each read took.
    const mark = (n: number) => store.db.execute(sql`update rollups_1h_totals set responses = responses + ${n} where bucket = ${new Date(HOUR).toISOString()}::timestamptz`);
    await mark(1000);
    try {
      assert.deepEqual([await responsesRead(wide, ['time']), await responsesRead(wide, DIMENSIONS), await responsesRead(filtered, ['time'])], [before[0] + 1000, before[1], before[2]]);
    } finally {
      await mark(-1000);
    }
  });

  test('an hour rolled by a collector on code from before the totals gets them at the next run', async () => {
    const { store } = database();
    const hour = sql`${new Date(HOUR).toISOString()}::timestamptz`;
    const totalOf = async () => (await queryRows<{ responses: number }>(store.db, sql`
      select responses::int as responses from rollups_1h_totals where bucket = ${hour}`)).map((row) => row.responses);
    const before = await totalOf();
    assert.equal(before.length, 1);
    // Everything rolled an hour ago, but one hour that such a collector (a rolling upgrade)
    // has just recomputed from its minutes, leaving its totals out.
    for (const table of ['rollups_1m', 'rollups_1h', 'rollups_1h_totals']) {
      await store.db.execute(sql`update ${sql.identifier(table)} set updated_at = updated_at - interval '1 hour'`);
    }
    await store.db.execute(sql`delete from rollups_1h_totals where bucket = ${hour}`);
    await store.db.execute(sql`update rollups_1h set updated_at = clock_timestamp() where bucket = ${hour}`);
    const { hours } = await rollUpHours(store, { now: LATER });
    assert.deepEqual(hours, [], 'no minute changed: the hours stay as that collector wrote them');
    assert.deepEqual(await totalOf(), before);
  });

  test('upgrading computes the totals of the hours already rolled, as the hourly job does', async () => {
    const { store } = database();
    const columns = sql.raw('bucket, responses, errors, with_output, generation_tokens, ttft_max_ms, itl_hist::jsonb as itl, duration_hist::jsonb as duration');
    const byJob = await queryRows(store.db, sql`select ${columns} from rollups_1h_totals order by bucket`);
    assert.ok(byJob.length >= 4);
    await store.db.execute(sql`delete from rollups_1h_totals`);
    const migration = readFileSync(join(MIGRATIONS_FOLDER, '0015_hourly_totals.sql'), 'utf8');
    const backfill = migration.split('--> statement-breakpoint').filter((statement) => /^\s*(--.*\n\s*)*INSERT/.test(statement));
    assert.equal(backfill.length, 1);
    await store.db.execute(sql.raw(backfill[0]));
    assert.deepEqual(await queryRows(store.db, sql`select ${columns} from rollups_1h_totals order by bucket`), byJob);
  });

  test('retention deletes hourly rows past the rollup cutoff', async () => {
    const { store } = database();
    await applyRetention(store, { rawDays: 400, rollupDays: 1, now: new Date(HOUR + 26 * HOUR_MS) });
    for (const table of ['rollups_1h', 'rollups_1h_totals']) {
      const [{ oldest }] = await queryRows<{ oldest: number }>(store.db, sql`select (extract(epoch from min(bucket)) * 1000)::float8 as oldest from ${sql.identifier(table)}`);
      assert.ok(Number(oldest) >= HOUR + 2 * HOUR_MS, table);
    }
  });
});
