/*
 * OTLP metrics request body → the GenAI semantic-convention histogram points Streamscope
 * can merge into its rollups, each with its series identity and its buckets keyed so that
 * two points of one series can be subtracted (cumulative temporality).
 *
 * Decoding reuses the message types of collector/otlp (the same .proto files); a body that
 * cannot be parsed is a RequestError, as for traces. Points of other metrics are counted
 * and left alone; a GenAI-named point that cannot be used (not a histogram, bad buckets,
 * a time unit that is not one) is a rejection, reported back as partial success.
 */
import protojson from 'protobufjs/ext/protojson.js';
import type { Type } from 'protobufjs';
import { RequestError } from '../errors';
import type { OtlpEncoding } from '../otlp/decode';
import { ExportMetricsServiceRequest } from '../otlp/messages';
import { UNKNOWN_SERVICE } from '../translate';

/** Which rollup columns a GenAI histogram feeds. */
export type Role = 'duration' | 'ttft' | 'itl' | 'tokens';

/** The histograms of the GenAI semantic conventions, client and server side. */
export const GEN_AI_HISTOGRAMS: Readonly<Record<string, Role>> = {
  'gen_ai.client.operation.duration': 'duration',
  'gen_ai.client.token.usage': 'tokens',
  'gen_ai.client.operation.time_to_first_chunk': 'ttft',
  'gen_ai.client.operation.time_per_output_chunk': 'itl',
  'gen_ai.server.request.duration': 'duration',
  'gen_ai.server.time_to_first_token': 'ttft',
  'gen_ai.server.time_per_output_token': 'itl',
};

/**
 * Buckets by key: explicit-bucket histograms key by bucket position ('0' … 'n'),
 * exponential ones by absolute bucket index at the point's scale, plus 'zero'.
 */
export type BucketCounts = Map<string, number>;

export type Layout =
  | { kind: 'explicit'; bounds: number[] }
  | { kind: 'exponential'; scale: number };

export interface GenAiPoint {
  role: Role;
  /** Identifies the series across exports: resource, scope, metric, point attributes and start time. */
  series: string;
  service: string;
  model: string;
  transport: string;
  /** error.type, when the operation failed. */
  errorType: string | null;
  /** gen_ai.token.type (input | output) on token usage points. */
  tokenType: string | null;
  cumulative: boolean;
  startTimeMs: number;
  timeMs: number;
  /** Multiplies a recorded value into the rollup's unit: milliseconds for latencies, tokens for usage. */
  scale: number;
  layout: Layout;
  buckets: BucketCounts;
  count: number;
  sum: number | null;
  min: number | null;
  max: number | null;
}

export interface DecodedMetrics {
  points: GenAiPoint[];
  /** Points of metrics that are none of GEN_AI_HISTOGRAMS, or from ignored scopes. */
  ignored: number;
  rejected: { point: string; reason: string }[];
}

const TEMPORALITY_CUMULATIVE = 2;
/** HistogramDataPoint flag: the point carries no value (a gap in the series). */
const FLAG_NO_RECORDED_VALUE = 1;
const NS_PER_MS = 1_000_000n;
/** As for spans: before this is a clock error, more than a day ahead is garbage. */
const EARLIEST_VALID_MS = Date.UTC(2000, 0, 1);
const MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;
/** Exponential histogram scales the OTLP specification allows. */
const MIN_SCALE = -10;
const MAX_SCALE = 20;

/** The latency units senders use, to milliseconds; the conventions say seconds, so no unit means seconds. */
const MS_PER_UNIT: Readonly<Record<string, number>> = { '': 1000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 1e-6 };

// The subset of the decoded message shapes this module reads (see collector/otlp/decode.ts
// for why 64-bit integers have two forms, and why a set field is found with Object.hasOwn).
interface Int64Bits { low: number; high: number; unsigned: boolean }
type Int64 = number | Int64Bits;
interface PbKeyValue { key: string; value?: Record<string, unknown> | null }
interface PbHistogramPoint {
  attributes: PbKeyValue[];
  startTimeUnixNano: Int64;
  timeUnixNano: Int64;
  count: Int64;
  sum?: number;
  min?: number;
  max?: number;
  flags: number;
  bucketCounts: Int64[];
  explicitBounds: number[];
}
interface PbExponentialPoint extends Omit<PbHistogramPoint, 'bucketCounts' | 'explicitBounds'> {
  scale: number;
  zeroCount: Int64;
  positive?: { offset: number; bucketCounts: Int64[] } | null;
  negative?: { offset: number; bucketCounts: Int64[] } | null;
}
interface PbMetric {
  name: string;
  unit: string;
  histogram?: { dataPoints: PbHistogramPoint[]; aggregationTemporality: number } | null;
  exponentialHistogram?: { dataPoints: PbExponentialPoint[]; aggregationTemporality: number } | null;
  gauge?: { dataPoints: unknown[] } | null;
  sum?: { dataPoints: unknown[] } | null;
  summary?: { dataPoints: unknown[] } | null;
}
interface PbRequest {
  resourceMetrics: {
    resource?: { attributes: PbKeyValue[] } | null;
    scopeMetrics: { scope?: { name: string } | null; metrics: PbMetric[] }[];
  }[];
}

export interface DecodeOptions {
  /** Instrumentation scopes whose metrics are dropped (see DEFAULT_IGNORED_SCOPES in ./index). */
  ignoredScopes: ReadonlySet<string>;
  nowMs: number;
}

export function decodeMetricsRequest(body: Uint8Array, encoding: OtlpEncoding, options: DecodeOptions): DecodedMetrics {
  const request = decodeOtlpBody(ExportMetricsServiceRequest, body, encoding) as unknown as PbRequest;
  const decoded: DecodedMetrics = { points: [], ignored: 0, rejected: [] };
  request.resourceMetrics.forEach((resourceMetrics, r) => {
    const resource = resourceMetrics.resource?.attributes ?? [];
    const service = stringAttribute(resource, 'service.name') || UNKNOWN_SERVICE;
    resourceMetrics.scopeMetrics.forEach((scopeMetrics, s) => {
      const scope = scopeMetrics.scope?.name ?? '';
      scopeMetrics.metrics.forEach((metric, m) => {
        const role = Object.hasOwn(GEN_AI_HISTOGRAMS, metric.name) ? GEN_AI_HISTOGRAMS[metric.name] : undefined;
        const where = `resourceMetrics[${r}].scopeMetrics[${s}].metrics[${m}] ${metric.name}`;
        if (!role || options.ignoredScopes.has(scope)) {
          decoded.ignored += pointCount(metric);
          return;
        }
        const histogram = metric.histogram ?? metric.exponentialHistogram;
        if (!histogram) {
          decoded.rejected.push({ point: where, reason: 'a GenAI latency or token metric must be a histogram' });
          return;
        }
        const context = { role, service, seriesPrefix: `${seriesOf(resource)}|${scope}|${metric.name}`, unit: metric.unit, cumulative: histogram.aggregationTemporality === TEMPORALITY_CUMULATIVE };
        histogram.dataPoints.forEach((point: PbHistogramPoint | PbExponentialPoint, p) => {
          if ((point.flags & FLAG_NO_RECORDED_VALUE) !== 0) return;
          try {
            decoded.points.push(normalisePoint(point, context, options.nowMs));
          } catch (error) {
            if (!(error instanceof InvalidPointError)) throw error;
            decoded.rejected.push({ point: `${where} dataPoints[${p}]`, reason: error.message });
          }
        });
      });
    });
  });
  return decoded;
}

/**
 * An OTLP body as a decoded message of `type`. JSON goes through ProtoJSON and then the
 * wire format, as collector/otlp/decode.ts does for traces, so both encodings hand the
 * reader one shape (decoded messages own exactly the fields that were sent).
 */
export function decodeOtlpBody(type: Type, body: Uint8Array, encoding: OtlpEncoding): unknown {
  const name = type.name;
  let message: Uint8Array = body;
  if (encoding === 'json') {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch (error) {
      throw new RequestError(400, `malformed JSON: ${(error as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new RequestError(400, `malformed JSON ${name}: the body must be a JSON object`);
    }
    try {
      message = type.encode(protojson.fromJson(type, json, { ignoreUnknownFields: true })).finish();
    } catch (error) {
      throw new RequestError(400, `malformed JSON ${name}: ${(error as Error).message}`);
    }
  }
  try {
    return type.decode(message);
  } catch (error) {
    throw new RequestError(400, `malformed protobuf ${name}: ${(error as Error).message}`);
  }
}

class InvalidPointError extends Error {}

interface PointContext {
  role: Role;
  service: string;
  seriesPrefix: string;
  unit: string;
  cumulative: boolean;
}

function normalisePoint(point: PbHistogramPoint | PbExponentialPoint, context: PointContext, nowMs: number): GenAiPoint {
  const attributes = point.attributes;
  const startTimeMs = nanosToMs(point.startTimeUnixNano);
  const timeMs = nanosToMs(point.timeUnixNano);
  if (!(timeMs >= EARLIEST_VALID_MS && timeMs <= nowMs + MAX_CLOCK_SKEW_MS)) {
    throw new InvalidPointError(`time_unix_nano is not a plausible time (${timeMs} ms)`);
  }
  const { layout, buckets } = 'scale' in point ? exponentialBuckets(point) : explicitBuckets(point);
  const count = countOf(point.count, 'count');
  let inBuckets = 0;
  for (const n of buckets.values()) inBuckets += n;
  if (inBuckets !== count) throw new InvalidPointError(`bucket counts add up to ${inBuckets}, count is ${count}`);
  return {
    role: context.role,
    series: `${context.seriesPrefix}|${seriesOf(attributes)}|${startTimeMs}`,
    service: context.service,
    model: stringAttribute(attributes, 'gen_ai.response.model') || stringAttribute(attributes, 'gen_ai.request.model'),
    transport: stringAttribute(attributes, 'streamscope.transport'),
    errorType: stringAttribute(attributes, 'error.type') || null,
    tokenType: stringAttribute(attributes, 'gen_ai.token.type') || null,
    cumulative: context.cumulative,
    startTimeMs,
    timeMs,
    scale: unitScale(context.role, context.unit),
    layout,
    buckets,
    count,
    sum: finiteOrNull(point, 'sum'),
    min: finiteOrNull(point, 'min'),
    max: finiteOrNull(point, 'max'),
  };
}

function unitScale(role: Role, unit: string): number {
  if (role === 'tokens') return 1;
  const scale = Object.hasOwn(MS_PER_UNIT, unit) ? MS_PER_UNIT[unit] : undefined;
  if (scale === undefined) throw new InvalidPointError(`unit "${unit}" is not a time unit`);
  return scale;
}

function explicitBuckets(point: PbHistogramPoint): { layout: Layout; buckets: BucketCounts } {
  const bounds = point.explicitBounds;
  for (let i = 0; i < bounds.length; i++) {
    if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw new InvalidPointError('explicit_bounds must be finite and strictly increasing');
    }
  }
  const counts = point.bucketCounts;
  // An empty point may omit its buckets; otherwise there is one more bucket than bounds.
  if (counts.length !== 0 && counts.length !== bounds.length + 1) {
    throw new InvalidPointError(`${counts.length} bucket_counts for ${bounds.length} explicit_bounds`);
  }
  const buckets: BucketCounts = new Map();
  counts.forEach((n, i) => addBucket(buckets, String(i), countOf(n, 'bucket_counts')));
  return { layout: { kind: 'explicit', bounds }, buckets };
}

function exponentialBuckets(point: PbExponentialPoint): { layout: Layout; buckets: BucketCounts } {
  if (!Number.isInteger(point.scale) || point.scale < MIN_SCALE || point.scale > MAX_SCALE) {
    throw new InvalidPointError(`scale ${point.scale} is outside [${MIN_SCALE}, ${MAX_SCALE}]`);
  }
  if (point.negative?.bucketCounts.some((n) => countOf(n, 'negative bucket_counts') > 0)) {
    throw new InvalidPointError('negative values: latencies and token counts cannot be below zero');
  }
  const buckets: BucketCounts = new Map();
  addBucket(buckets, 'zero', countOf(point.zeroCount, 'zero_count'));
  const positive = point.positive;
  positive?.bucketCounts.forEach((n, i) => addBucket(buckets, String(positive.offset + i), countOf(n, 'bucket_counts')));
  return { layout: { kind: 'exponential', scale: point.scale }, buckets };
}

function addBucket(buckets: BucketCounts, key: string, n: number): void {
  if (n > 0) buckets.set(key, n);
}

const TWO_POW_32 = 2 ** 32;

/** Counts above 2^53 are not counts any exporter produces; refusing them keeps sums exact. */
function countOf(value: Int64, field: string): number {
  const n = typeof value === 'number' ? value : (value.unsigned ? value.high >>> 0 : value.high) * TWO_POW_32 + (value.low >>> 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidPointError(`${field} ${n} is not a count`);
  return n;
}

function nanosToMs(value: Int64): number {
  if (typeof value === 'number') return value / 1e6;
  const nanos = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return Number(nanos / NS_PER_MS) + Number(nanos % NS_PER_MS) / 1e6;
}

function finiteOrNull(point: object, field: 'sum' | 'min' | 'max'): number | null {
  if (!Object.hasOwn(point, field)) return null;
  const value = (point as Record<string, unknown>)[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidPointError(`${field} must be a finite number`);
  return value;
}

/** A string attribute's value, '' when absent or not a string (the rollup key columns are not null). */
function stringAttribute(keyValues: PbKeyValue[], key: string): string {
  const value = keyValues.find((kv) => kv.key === key)?.value;
  return value && Object.hasOwn(value, 'stringValue') ? String(value.stringValue).replaceAll('\u0000', '') : '';
}

/** Attributes as one order-independent string, to recognise a series in the next export. */
function seriesOf(keyValues: PbKeyValue[]): string {
  return keyValues.map((kv) => `${kv.key}=${JSON.stringify(kv.value ?? null)}`).sort().join(',');
}

function pointCount(metric: PbMetric): number {
  const data = metric.histogram ?? metric.exponentialHistogram ?? metric.gauge ?? metric.sum ?? metric.summary;
  return data?.dataPoints.length ?? 0;
}
