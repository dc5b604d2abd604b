import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { addToHistogram, histogramQuantiles, mergeHistograms, RELATIVE_ACCURACY } from '../histogram';
import { queryRows } from '../rows';
import type { HistogramBuckets } from '../schema';
import { describeEachDatabase } from '../../test/support/databases';

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

test('quantiles from a histogram are within the stated relative error of exact ones', () => {
  // A skewed latency-like distribution spanning four orders of magnitude.
  const values = Array.from({ length: 20_000 }, (_, i) => 0.5 + ((i * 7919) % 20_000) ** 2 / 40_000);
  const hist: HistogramBuckets = {};
  for (const v of values) addToHistogram(hist, v);
  const sorted = [...values].sort((a, b) => a - b);
  const qs = [0.5, 0.9, 0.99, 0.999];
  const estimates = histogramQuantiles(hist, qs);
  qs.forEach((q, i) => {
    const exact = exactQuantile(sorted, q);
    const relative = Math.abs(estimates[i]! - exact) / exact;
    assert.ok(relative <= RELATIVE_ACCURACY, `p${q * 100}: ${estimates[i]} vs exact ${exact} (${relative})`);
  });
});

test('merging two histograms equals one histogram of all values', () => {
  const a: HistogramBuckets = {};
  const b: HistogramBuckets = {};
  const all: HistogramBuckets = {};
  for (let i = 1; i <= 1000; i++) {
    addToHistogram(i % 2 ? a : b, i * 1.3);
    addToHistogram(all, i * 1.3);
  }
  assert.deepEqual(mergeHistograms({ ...a }, b), all);
});

test('an empty histogram has no quantiles', () => {
  assert.deepEqual(histogramQuantiles({}, [0.5]), [null]);
});

describeEachDatabase('streamscope_hist_merge / streamscope_hist_sum in SQL', (database) => {
  test('add counts per bucket, same as the JavaScript merge', async () => {
    const a: HistogramBuckets = { '10': 2, '11': 1 };
    const b: HistogramBuckets = { '11': 4, '-3': 1 };
    const [row] = await queryRows<{ merged: HistogramBuckets; summed: HistogramBuckets }>(
      database().store.db,
      sql`select streamscope_hist_merge(${JSON.stringify(a)}::jsonb, ${JSON.stringify(b)}::jsonb) as merged,
                 (select streamscope_hist_sum(h) from (values (${JSON.stringify(a)}::jsonb), (${JSON.stringify(b)}::jsonb)) v(h)) as summed`,
    );
    const expected = mergeHistograms({ ...a }, b);
    assert.deepEqual(row.merged, expected);
    assert.deepEqual(row.summed, expected);
  });
});
