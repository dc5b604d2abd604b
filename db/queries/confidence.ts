/*
 * Whether two transports' figures differ by more than their samples' noise. A percentile
 * of 40 responses moves by tens of percent from one sample to the next, so Compare calls a
 * difference only when the samples show it at 95 % confidence:
 *
 * - a percentile by its distribution-free confidence interval: the q-quantile of n values
 *   lies between the order statistics of ranks ⌊nq − z·√(nq(1−q))⌋ and ⌈nq + z·√(nq(1−q))⌉
 *   (counting from 1: the binomial count of values below it, normally approximated; its
 *   coverage, simulated in test/confidence.test.ts, is at least 95 % from 5 values up).
 *   Where a rank falls outside the sample the interval is open on that side: ten values
 *   cannot bound a p99 from above. Two percentiles differ when their intervals do not
 *   overlap, a test at well under 5 % error;
 * - a rate of events among responses (errors, reused connections) by the two-proportion
 *   z-test.
 */

/** Two-sided 95 %: the standard normal's 0.975 quantile. */
export const CONFIDENCE_Z = 1.959964;

/** Open ends are −Infinity and Infinity. */
export type Interval = readonly [low: number, high: number];

/**
 * The 0-based ranks of the order statistics bounding the 95 % confidence interval of the
 * q-quantile of n values; a null rank where the interval is open; null without values.
 */
export function quantileRanks(q: number, n: number): [low: number | null, high: number | null] | null {
  if (!(n > 0)) return null;
  const spread = CONFIDENCE_Z * Math.sqrt(n * q * (1 - q));
  const [low, high] = [Math.floor(n * q - spread), Math.ceil(n * q + spread)];
  return [low >= 1 ? low - 1 : null, high <= n ? high - 1 : null];
}

/** An interval from the values at its bounding ranks (quantileRanks), null ones open. */
export function interval(low: number | null, high: number | null): Interval {
  return [low ?? -Infinity, high ?? Infinity];
}

export function intervalsOverlap(a: Interval, b: Interval): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

/** Whether `hits` of `n` and `otherHits` of `otherN` are different rates at 95 % confidence (two-proportion z-test). */
export function ratesDiffer(hits: number, n: number, otherHits: number, otherN: number): boolean {
  if (!(n > 0 && otherN > 0)) return false;
  const pooled = (hits + otherHits) / (n + otherN);
  const standardError = Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / otherN));
  if (standardError === 0) return false;
  return Math.abs(hits / n - otherHits / otherN) / standardError > CONFIDENCE_Z;
}
