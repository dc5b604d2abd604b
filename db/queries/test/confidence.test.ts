import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interval, intervalsOverlap, quantileRanks, ratesDiffer } from '../confidence';

/** Seeded uniform values, so the coverage below is the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The interval of the q-quantile of sorted values, read at quantileRanks. */
function intervalOf(sorted: readonly number[], q: number) {
  const [low, high] = quantileRanks(q, sorted.length)!;
  return interval(low === null ? null : sorted[low], high === null ? null : sorted[high]);
}

test('a percentile interval holds the true percentile at least 95 % of the time, from 5 values up', () => {
  const random = mulberry32(42);
  const trials = 2000;
  for (const n of [5, 20, 40, 400]) {
    for (const q of [0.5, 0.9, 0.99]) {
      let covered = 0;
      for (let trial = 0; trial < trials; trial++) {
        // Uniform on [0, 1): the true q-quantile is q.
        const [low, high] = intervalOf(Array.from({ length: n }, random).sort((a, b) => a - b), q);
        if (low <= q && q <= high) covered++;
      }
      const coverage = covered / trials;
      // Above 99.5 % for large n would be an interval too wide to tell anything apart.
      assert.ok(coverage >= 0.945 && (n < 400 || coverage <= 0.99), `n ${n}, q ${q}: covered ${coverage}`);
    }
  }
});

test('a percentile interval narrows as the sample grows, and is open where the sample cannot bound it', () => {
  const values = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  const [few, many] = [intervalOf(values(10), 0.5), intervalOf(values(1000), 0.5)];
  assert.deepEqual(few, [1, 9]);
  assert.deepEqual(many, [469, 531]);
  // Ten values say nothing of how far above them the 99th percentile lies.
  assert.deepEqual(intervalOf(values(10), 0.99), [9, Infinity]);
  assert.equal(quantileRanks(0.5, 0), null);
  assert.equal(intervalsOverlap([1, 2], [2, 3]), true);
  assert.equal(intervalsOverlap([1, 2], [2.5, Infinity]), false);
});

test('two error rates differ only when the counts show it', () => {
  // 3 of 100 against 6 of 100: z = 1.02; 30 of 1000 against 60 of 1000: z = 3.23.
  assert.equal(ratesDiffer(3, 100, 6, 100), false);
  assert.equal(ratesDiffer(30, 1000, 60, 1000), true);
  assert.equal(ratesDiffer(0, 50, 0, 50), false);
  assert.equal(ratesDiffer(1, 0, 0, 10), false);
});
