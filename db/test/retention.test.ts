import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { computeRollups, mergeRollups, writeBatch } from '../ingest';
import { claimMetricPoints, lockMetricSeries, saveMetricSeries } from '../metric-points';
import { DAY_MS, ensurePartitions, listPartitions } from '../partitions';
import { applyRetention, DEFAULT_RETENTION, retentionFromEnv } from '../retention';
import { queryRows } from '../rows';
import { syntheticResponse } from '../../bench/support/workload';
import { describeEachDatabase } from '../../test/support/databases';

const NOW = new Date(Date.UTC(2026, 10, 27, 9, 30));
const TODAY = Date.UTC(2026, 10, 27);
const daysAgo = (days: number, hours = 0) => new Date(TODAY - days * DAY_MS + hours * 3_600_000);

test('retention settings come from the environment, with defaults', () => {
  assert.deepEqual(retentionFromEnv({}), DEFAULT_RETENTION);
  assert.deepEqual(DEFAULT_RETENTION, { rawDays: 14, rollupDays: 400 });
  assert.deepEqual(retentionFromEnv({ STREAMSCOPE_RETENTION_RAW_DAYS: '3', STREAMSCOPE_RETENTION_ROLLUP_DAYS: '30' }), { rawDays: 3, rollupDays: 30 });
  assert.throws(() => retentionFromEnv({ STREAMSCOPE_RETENTION_RAW_DAYS: 'two weeks' }), /STREAMSCOPE_RETENTION_RAW_DAYS/);
  assert.throws(() => retentionFromEnv({ STREAMSCOPE_RETENTION_ROLLUP_DAYS: '0' }), /positive/);
});

describeEachDatabase('applyRetention', (database) => {
  test('drops exactly the partitions wholly older than rawDays, old DEFAULT rows, old rollups and day-old metric point keys and series', async () => {
    const { store } = database();
    // Partitions for 6 days ago and 4 days ago … today; 5 days ago has none.
    await ensurePartitions(store, { from: daysAgo(6), to: daysAgo(6) });
    await ensurePartitions(store, { from: daysAgo(4), to: daysAgo(0) });
    const partitioned = [6, 4, 3, 2, 1, 0].map((d) => syntheticResponse(d, daysAgo(d, 12)));
    // DEFAULT rows: 9 and 5 days ago (older than the cutoff), 10 days ahead (kept).
    const inDefault = [syntheticResponse(109, daysAgo(9, 1)), syntheticResponse(105, daysAgo(5, 12)), syntheticResponse(110, daysAgo(-10))];
    await writeBatch(store, { responses: [...partitioned, ...inDefault], connections: [] });
    // Rollups 40 and 10 days old: with rollupDays 30 only the first goes.
    await mergeRollups(store.db, computeRollups([syntheticResponse(200, daysAgo(40)), syntheticResponse(201, daysAgo(10))]));
    // Merged delta metric points: one claimed two days ago goes, one claimed now stays.
    await claimMetricPoints(store.db, ['claimed-2-days-ago', 'claimed-now']);
    await store.db.execute(sql`update merged_metric_points set merged_at = case point_key
      when 'claimed-2-days-ago' then ${daysAgo(2).toISOString()}::timestamptz else ${NOW.toISOString()}::timestamptz end`);
    // Cumulative metric series: one last updated two days ago goes, one updated now stays.
    await store.db.transaction(async (tx) => {
      await lockMetricSeries(tx as unknown as typeof store.db, ['series-2-days-old', 'series-now']);
      await saveMetricSeries(tx as unknown as typeof store.db, new Map([['series-2-days-old', { count: 1 }], ['series-now', { count: 2 }]]));
    });
    await store.db.execute(sql`update metric_series set updated_at = case series_key
      when 'series-2-days-old' then ${daysAgo(2).toISOString()}::timestamptz else ${NOW.toISOString()}::timestamptz end`);

    // Cutoff now − 3 days = 3 days ago 09:30: the days 6 and 4 days ago are wholly older;
    // the day 3 days ago straddles the cutoff and stays whole.
    const result = await applyRetention(store, { rawDays: 3, rollupDays: 30, now: NOW });
    assert.deepEqual(result.droppedPartitions, [
      'connections_p20261121', 'connections_p20261123', 'responses_p20261121', 'responses_p20261123',
    ]);
    assert.equal(result.defaultRowsDeleted, 2);
    assert.equal(result.rollupRowsDeleted, 1);
    assert.equal(result.mergedMetricPointsDeleted, 1);
    assert.equal(result.metricSeriesDeleted, 1);
    const series = await queryRows<{ series_key: string; last_point: unknown }>(store.db, sql`select series_key, last_point from metric_series`);
    assert.deepEqual([...series], [{ series_key: 'series-now', last_point: { count: 2 } }]);
    const points = await queryRows<{ point_key: string }>(store.db, sql`select point_key from merged_metric_points`);
    assert.deepEqual(points.map((p) => p.point_key), ['claimed-now']);
    assert.deepEqual([...(await listPartitions(store.db, 'responses')).keys()].sort(), [3, 2, 1, 0].map((d) => TODAY - d * DAY_MS));
    const kept = await queryRows<{ span_id: string }>(store.db, sql`select span_id from responses order by start_time`);
    assert.deepEqual(kept.map((r) => r.span_id), [...partitioned.slice(2), inDefault[2]].map((r) => r.spanId));
    const [{ oldest }] = await queryRows<{ oldest: number }>(store.db, sql`select (extract(epoch from min(bucket)) * 1000)::float8 as oldest from rollups_1m`);
    assert.equal(Number(oldest), daysAgo(10).getTime());

    const again = await applyRetention(store, { rawDays: 3, rollupDays: 30, now: NOW });
    assert.deepEqual(again, { droppedPartitions: [], defaultRowsDeleted: 0, rollupRowsDeleted: 0, mergedMetricPointsDeleted: 0, metricSeriesDeleted: 0 });
  });
});
