/*
 * Mergeable log-bucketed histograms for latency rollups. Bucket keys follow DDSketch's
 * logarithmic mapping, so any quantile read from merged buckets is within
 * RELATIVE_ACCURACY of the exact value, however many minutes or writers were merged.
 */
// The package index exports only sketches; the mapping is what the rollups need.
import { LogarithmicMapping } from '@datadog/sketches-js/dist/ddsketch/mapping';
import type { HistogramBuckets } from './schema';

/** Quantiles read from a histogram are within ±1 % of the exact value. */
export const RELATIVE_ACCURACY = 0.01;

const mapping = new LogarithmicMapping(RELATIVE_ACCURACY);

/** Values at or below this (ms) share the lowest bucket: sub-microsecond precision is noise here. */
const MIN_VALUE_MS = 0.001;

export function bucketKey(valueMs: number): number {
  return mapping.key(Math.max(valueMs, MIN_VALUE_MS));
}

/** The representative value of a bucket: within RELATIVE_ACCURACY of every value in it. */
export function bucketValue(key: number): number {
  return mapping.value(key);
}

export function addToHistogram(hist: HistogramBuckets, valueMs: number, countToAdd = 1): void {
  if (!Number.isFinite(valueMs) || valueMs < 0) return;
  const key = String(bucketKey(valueMs));
  hist[key] = (hist[key] ?? 0) + countToAdd;
}

export function mergeHistograms(target: HistogramBuckets, source: HistogramBuckets): HistogramBuckets {
  for (const [key, n] of Object.entries(source)) target[key] = (target[key] ?? 0) + Number(n);
  return target;
}

export function histogramCount(hist: HistogramBuckets): number {
  let total = 0;
  for (const n of Object.values(hist)) total += Number(n);
  return total;
}

/**
 * Values at 0-based ranks of a histogram's values, each the value of the bucket holding its
 * rank, sorted once; `ranksOf` gets the number of values. Null for a null rank, and for
 * every rank of an empty histogram.
 */
export function histogramRanks(hist: HistogramBuckets | ReadonlyMap<number, number>, ranksOf: (total: number) => readonly (number | null)[]): (number | null)[] {
  const pairs = hist instanceof Map ? [...hist] : Object.entries(hist).map(([k, n]) => [Number(k), Number(n)] as const);
  const entries = pairs
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((s, [, n]) => s + n, 0);
  return ranksOf(total).map((rank) => {
    if (rank === null || total === 0) return null;
    let seen = 0;
    for (const [key, n] of entries) {
      seen += n;
      if (seen > rank) return bucketValue(key);
    }
    return bucketValue(entries[entries.length - 1][0]);
  });
}

/** The rank a quantile is read at, DDSketch's rule: the value of rank q·(n−1), counting from 0. */
export const quantileRank = (q: number, total: number) => q * (total - 1);

/** Quantiles (0..1) from one histogram; null where the histogram is empty. */
export function histogramQuantiles(hist: HistogramBuckets | ReadonlyMap<number, number>, qs: readonly number[]): (number | null)[] {
  return histogramRanks(hist, (total) => qs.map((q) => quantileRank(q, total)));
}
