/*
 * GenAI histogram points → rollups_1m rows.
 *
 * Temporality: a delta point is merged as it is, once: a retried point already merged, by
 * any collector, is skipped (db/metric-points.ts). A cumulative point holds everything since
 * its series started, so only its difference from the series' last merged point is merged;
 * that point is kept in metric_series, so the difference is the same whichever collector
 * the next point reaches, and after a restart. The first point of a series is merged whole
 * when the series is young (it started at most FRESH_SERIES_MS before the point: a new or
 * short-lived process), and otherwise only kept (a long-running process whose history was
 * counted already or is lost either way, e.g. one met first after its series' row expired).
 *
 * Resolution: each bucket's count is put at one value inside the bucket (the midpoint,
 * clamped to the point's min and max; the overflow bucket at max, or at its lower bound
 * when max is absent), then into our log buckets (db/histogram.ts). Quantiles read from
 * metric-fed rollups are therefore as coarse as the sender's buckets.
 */
import { createHash } from 'node:crypto';
import { addToHistogram } from '../../db/histogram';
import type { mergeRollups } from '../../db/ingest';
import { minuteStart } from '../../db/time-buckets';
import type { BucketCounts, GenAiPoint, Layout } from './decode';

export type RollupRow = Parameters<typeof mergeRollups>[1][number];

/** A cumulative series first seen this young is counted whole. */
export const FRESH_SERIES_MS = 5 * 60_000;

/** A series' last merged point, as metric_series stores it (JSON: buckets as entries). */
interface StoredPoint {
  layout: Layout;
  buckets: [string, number][];
  count: number;
  sum: number | null;
  max: number | null;
  timeMs: number;
}

/** What cumulative points add to the rollups, and each series' last point once they are merged. */
export interface IncrementPlan {
  increments: GenAiPoint[];
  /** By series key: to store in the transaction that merges the increments. */
  latest: Map<string, StoredPoint>;
}

/** The key a delta point is claimed by (db/metric-points.ts): its series (start time included) and end. */
export function deltaPointKey(point: GenAiPoint): string {
  return sha256(`${point.series}|${point.timeMs}`);
}

/** The key of a cumulative point's series in metric_series. */
export function seriesKey(point: GenAiPoint): string {
  return sha256(point.series);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * What cumulative `points` add: each one's difference from its series' last merged point,
 * `stored` by series key (`keys[i]` is `points[i]`'s seriesKey; db/metric-points.ts:
 * lockMetricSeries; null or absent for a series never merged). A point no later than the
 * last merged one adds nothing: a retry, or a copy of it sent to another collector.
 */
export function planIncrements(points: readonly GenAiPoint[], keys: readonly string[], stored: ReadonlyMap<string, unknown>): IncrementPlan {
  const latest = new Map<string, StoredPoint>();
  const increments: GenAiPoint[] = [];
  for (const [i, point] of points.entries()) {
    const key = keys[i];
    const previous = latest.get(key) ?? (stored.get(key) as StoredPoint | null | undefined) ?? undefined;
    if (previous && point.timeMs <= previous.timeMs) continue;
    const increment = incrementOf(point, previous);
    latest.set(key, { layout: point.layout, buckets: [...point.buckets], count: point.count, sum: point.sum, max: point.max, timeMs: point.timeMs });
    if (increment) increments.push(increment);
  }
  return { increments, latest };
}

/** The part of cumulative `point` not counted before; null when nothing new. */
function incrementOf(point: GenAiPoint, previous: StoredPoint | undefined): GenAiPoint | null {
  if (!previous) return point.timeMs - point.startTimeMs <= FRESH_SERIES_MS ? point : null;
  // A count that went down is a restarted sender reusing the start time: all of it is new.
  if (point.count < previous.count) return point;
  const buckets = subtract(point.buckets, alignTo(previous, point.layout));
  // Buckets that cannot be subtracted mean the sender changed its aggregation: a reset.
  if (!buckets) return point;
  const count = point.count - previous.count;
  if (count === 0) return null;
  const sum = point.sum !== null && previous.sum !== null ? point.sum - previous.sum : null;
  // min and max hold over the whole series; only a max that grew is known to be this interval's.
  const max = point.max !== null && point.max !== previous.max ? point.max : null;
  return { ...point, buckets, count, sum, min: null, max };
}

/**
 * The previous buckets in `layout`'s keys, or null when they cannot be compared. An
 * exponential histogram may lower its scale as its range grows; its old buckets then fold
 * into the coarser ones (index >> scale difference), exactly.
 */
function alignTo(previous: StoredPoint, layout: Layout): BucketCounts | null {
  if (previous.layout.kind === 'explicit' && layout.kind === 'explicit') {
    const same = previous.layout.bounds.length === layout.bounds.length && previous.layout.bounds.every((b, i) => b === layout.bounds[i]);
    return same ? new Map(previous.buckets) : null;
  }
  if (previous.layout.kind !== 'exponential' || layout.kind !== 'exponential' || previous.layout.scale < layout.scale) return null;
  const shift = previous.layout.scale - layout.scale;
  const folded: BucketCounts = new Map();
  for (const [key, n] of previous.buckets) {
    const target = key === 'zero' ? key : String(Number(key) >> shift);
    folded.set(target, (folded.get(target) ?? 0) + n);
  }
  return folded;
}

/** Per-bucket difference; null when a bucket went down (not the same series any more). */
function subtract(current: BucketCounts, previous: BucketCounts | null): BucketCounts | null {
  if (!previous) return null;
  const difference: BucketCounts = new Map();
  for (const [key, n] of current) {
    const d = n - (previous.get(key) ?? 0);
    if (d < 0) return null;
    if (d > 0) difference.set(key, d);
  }
  for (const key of previous.keys()) if (!current.has(key)) return null;
  return difference;
}

/** One representative value per bucket with a count, in the point's recorded unit. */
export function bucketValues(point: Pick<GenAiPoint, 'layout' | 'buckets' | 'min' | 'max'>): [value: number, count: number][] {
  const values: [number, number][] = [];
  for (const [key, count] of point.buckets) {
    const [lower, upper] = bucketRange(point.layout, key);
    const lo = point.min !== null ? Math.max(lower, point.min) : lower;
    const hi = point.max !== null ? Math.min(upper, point.max) : upper;
    let value: number;
    if (!Number.isFinite(hi)) value = lo;
    else if (lo > hi) value = hi;
    else value = (lo + hi) / 2;
    values.push([Math.max(0, value), count]);
  }
  return values;
}

/** [lower, upper] of a bucket; the first explicit bucket starts at 0 (values are not negative). */
function bucketRange(layout: Layout, key: string): [number, number] {
  if (layout.kind === 'explicit') {
    const i = Number(key);
    const { bounds } = layout;
    if (bounds.length === 0) return [0, Number.POSITIVE_INFINITY];
    if (i === 0) return [Math.min(0, bounds[0]), bounds[0]];
    return [bounds[i - 1], i < bounds.length ? bounds[i] : Number.POSITIVE_INFINITY];
  }
  if (key === 'zero') return [0, 0];
  // Bucket index k holds (base^k, base^(k+1)] with base = 2^(2^-scale).
  const base = 2 ** (2 ** -layout.scale);
  const k = Number(key);
  return [base ** k, base ** (k + 1)];
}

/** Adds increments (already net of earlier cumulative points) to per-minute rollup rows. */
export function toRollups(points: GenAiPoint[]): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const point of points) {
    const bucket = minuteStart(point.timeMs);
    const key = `${bucket}\u0000${point.service}\u0000${point.model}\u0000${point.transport}`;
    let row = rows.get(key);
    if (!row) {
      row = emptyRollup(bucket, point);
      rows.set(key, row);
    }
    addPoint(row, point);
  }
  return [...rows.values()];
}

function emptyRollup(bucket: number, { service, model, transport }: GenAiPoint): RollupRow {
  return {
    bucket, service, model, transport,
    responses: 0, errors: 0, withOutput: 0, inputTokens: 0, outputTokens: 0,
    generationTokens: 0, generationSeconds: 0, bytesSent: 0, bytesReceived: 0,
    ttftSumMs: 0, durationSumMs: 0, ttftMaxMs: null, durationMaxMs: null, itlMaxMs: null,
    ttftHist: {}, itlHist: {}, durationHist: {},
  };
}

const larger = (a: number | null, b: number | null) => (b === null ? a : a === null ? b : Math.max(a, b));

function addPoint(row: RollupRow, point: GenAiPoint): void {
  const values = bucketValues(point);
  // Without a sum, the buckets' representative values estimate it.
  const sum = point.sum ?? values.reduce((total, [value, n]) => total + value * n, 0);
  if (point.role === 'tokens') {
    // Rollup token columns are integers; usage sums are whole numbers unless a sender estimates.
    if (point.tokenType === 'input') row.inputTokens += Math.round(sum);
    else if (point.tokenType === 'output') row.outputTokens += Math.round(sum);
    return;
  }
  const hist = point.role === 'duration' ? row.durationHist : point.role === 'ttft' ? row.ttftHist : row.itlHist;
  for (const [value, n] of values) addToHistogram(hist, value * point.scale, n);
  const maxMs = point.max === null ? null : point.max * point.scale;
  if (point.role === 'duration') {
    row.responses += point.count;
    if (point.errorType) row.errors += point.count;
    row.durationSumMs += sum * point.scale;
    row.durationMaxMs = larger(row.durationMaxMs, maxMs);
  } else if (point.role === 'ttft') {
    row.withOutput += point.count;
    row.ttftSumMs += sum * point.scale;
    row.ttftMaxMs = larger(row.ttftMaxMs, maxMs);
  } else {
    row.itlMaxMs = larger(row.itlMaxMs, maxMs);
  }
}
