/*
 * WebSocket against HTTP/SSE on the same model: latency percentiles, throughput, and what
 * each response pays for its connection. The handshake (DNS + TCP + TLS + upgrade) of a
 * connection is amortised over the responses it carried, which is where a persistent
 * socket earns its keep.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client';
import { HANDSHAKE_INPUTS, HANDSHAKE_MS } from '../handshake';
import { RELATIVE_ACCURACY } from '../histogram';
import { queryRows } from '../rows';
import { aggregateResponses, type Aggregate, type AggregateIntervals, type PercentileIntervals } from './aggregate';
import { intervalsOverlap, ratesDiffer, type Interval } from './confidence';
import { connectionsInUse, inUseFromRollups, reportedOpen } from './connections-in-use';
import { coveredSpan, percentileSource, ratePerSecond, type DashboardFilter, type PercentileSource, type TimeSpan } from './filter';

export type ComparedMetric =
  | 'ttftP50'
  | 'ttftP90'
  | 'ttftP99'
  | 'itlP50'
  | 'itlP99'
  | 'durationP50'
  | 'durationP90'
  | 'durationP99'
  | 'responsesPerSecond'
  | 'streamTokensPerSecond'
  | 'connectionOverheadMs'
  | 'bytesPerResponse'
  | 'reuseRatio'
  | 'responsesPerConnection'
  | 'errorRate';

export interface MetricDefinition {
  key: ComparedMetric;
  label: string;
  unit: 'ms' | 'responses/s' | 'tokens/s' | 'bytes' | 'ratio' | 'responses';
  /** Which direction is an improvement. */
  better: 'lower' | 'higher';
}

export const COMPARED_METRICS: readonly MetricDefinition[] = [
  { key: 'ttftP50', label: 'TTFT p50', unit: 'ms', better: 'lower' },
  { key: 'ttftP90', label: 'TTFT p90', unit: 'ms', better: 'lower' },
  { key: 'ttftP99', label: 'TTFT p99', unit: 'ms', better: 'lower' },
  { key: 'itlP50', label: 'inter-token latency p50', unit: 'ms', better: 'lower' },
  { key: 'itlP99', label: 'inter-token latency p99', unit: 'ms', better: 'lower' },
  { key: 'durationP50', label: 'end-to-end p50', unit: 'ms', better: 'lower' },
  { key: 'durationP90', label: 'end-to-end p90', unit: 'ms', better: 'lower' },
  { key: 'durationP99', label: 'end-to-end p99', unit: 'ms', better: 'lower' },
  { key: 'responsesPerSecond', label: 'responses/s', unit: 'responses/s', better: 'higher' },
  { key: 'streamTokensPerSecond', label: 'tokens/s per stream', unit: 'tokens/s', better: 'higher' },
  { key: 'connectionOverheadMs', label: 'connection overhead per response', unit: 'ms', better: 'lower' },
  { key: 'bytesPerResponse', label: 'bytes per response', unit: 'bytes', better: 'lower' },
  { key: 'reuseRatio', label: 'connection reuse ratio', unit: 'ratio', better: 'higher' },
  { key: 'responsesPerConnection', label: 'responses per connection', unit: 'responses', better: 'higher' },
  { key: 'errorRate', label: 'error rate', unit: 'ratio', better: 'lower' },
];

export type MetricValues = Record<ComparedMetric, number | null>;

/** What a metric's difference is tested on (confidence.ts): a percentile's interval, or a rate's counts. */
export type Evidence = { interval: Interval } | { hits: number; n: number };

export interface TransportColumn {
  transport: string;
  responses: number;
  values: MetricValues;
  /** For the metrics that have a test. */
  evidence: Partial<Record<ComparedMetric, Evidence>>;
}

/**
 * Differences up to this many percent are called level, neither better nor worse: a
 * percentile from the rollups is its histogram bucket's value, within RELATIVE_ACCURACY of
 * exact, and two in adjacent buckets are (1 + a) / (1 − a) apart, 2.02 %, with no
 * difference in the traffic needed.
 */
export const LEVEL_PERCENT = ((1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY) - 1) * 100;
/** Adjacent buckets' values are LEVEL_PERCENT apart up to rounding. */
const LEVEL_ROUNDING = 1e-9;

export interface Difference {
  metric: ComparedMetric;
  /** (candidate − baseline) / baseline × 100; null when either side is missing or the baseline is 0. */
  percent: number | null;
  /**
   * Whether the samples show a difference at 95 % confidence: the percentiles' intervals do
   * not overlap, or the rates differ by a two-proportion test; null for figures without a test.
   */
  significant: boolean | null;
  /** Whether the candidate is the better; null when level (within LEVEL_PERCENT), not significant or not comparable. */
  improved: boolean | null;
}

export interface ModelComparison {
  model: string;
  transports: TransportColumn[];
  /** WebSocket against the HTTP family (SSE, else plain HTTP), when both were seen. */
  candidate: string | null;
  baseline: string | null;
  differences: Difference[];
}

export interface Comparison {
  source: PercentileSource;
  models: ModelComparison[];
}

interface Handshakes extends Record<string, unknown> {
  transport: string;
  handshake_ms: number;
  responses: number;
  connections: number;
}

/** The columns HANDSHAKE_MS reads, with the transport and the responses carried. */
const HANDSHAKE_AND_RESPONSES = sql`transport, ${HANDSHAKE_INPUTS}, responses`;

/**
 * Per transport: handshake time of the connections in use during the range
 * (connections-in-use.ts) that carried a response, and the responses they carried; from
 * raw rows up to RAW_RANGE_LIMIT_MS, from the connection rollups beyond (`source`).
 * Connections carry no model, so every model of a transport shares the figure.
 */
async function handshakes(db: Db, filter: DashboardFilter, source: PercentileSource): Promise<Handshakes[]> {
  const carrying = sql`where responses > 0`;
  const inUse = source === 'raw'
    ? sql`select transport, 1 as carrying, ${HANDSHAKE_MS} as handshake_ms, responses
          from (${connectionsInUse(filter, ['service'], HANDSHAKE_AND_RESPONSES)}) c ${carrying}`
    : sql`select transport, carrying, handshake_ms, responses from (${inUseFromRollups(filter, { hours: true })}) c
          union all
          select coalesce(transport, ''), 1, ${HANDSHAKE_MS}, responses
          from (${reportedOpen(filter, ['service'], HANDSHAKE_AND_RESPONSES)}) c ${carrying}`;
  return queryRows<Handshakes>(
    db,
    sql`select coalesce(transport, '') as transport,
               coalesce(sum(handshake_ms), 0)::float8 as handshake_ms,
               coalesce(sum(responses), 0)::float8 as responses,
               sum(carrying)::float8 as connections
        from (${inUse}) c
        group by 1 having sum(carrying) > 0`,
  );
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? numerator / denominator : null;
}

function metricValues(aggregate: Aggregate, handshake: Handshakes | undefined, span: TimeSpan): MetricValues {
  // Each connection carries one response that was not reused: its first.
  const { connectionResponses, reusedResponses } = aggregate;
  return {
    ttftP50: aggregate.ttft.p50,
    ttftP90: aggregate.ttft.p90,
    ttftP99: aggregate.ttft.p99,
    itlP50: aggregate.itl.p50,
    itlP99: aggregate.itl.p99,
    durationP50: aggregate.duration.p50,
    durationP90: aggregate.duration.p90,
    durationP99: aggregate.duration.p99,
    responsesPerSecond: ratePerSecond(aggregate.responses, span),
    streamTokensPerSecond: ratio(aggregate.generationTokens, aggregate.generationSeconds),
    connectionOverheadMs: handshake ? ratio(Number(handshake.handshake_ms), Number(handshake.responses)) : null,
    bytesPerResponse: ratio(aggregate.bytes, aggregate.responses),
    reuseRatio: ratio(reusedResponses, connectionResponses),
    // From the connections in use when they reported what they carried: counted from the
    // range's responses alone, a connection opened before the range would carry none.
    responsesPerConnection: handshake
      ? ratio(Number(handshake.responses), Number(handshake.connections))
      : ratio(connectionResponses, connectionResponses - reusedResponses),
    errorRate: ratio(aggregate.errors, aggregate.responses),
  };
}

/** The percentile each percentile metric reads, by histogram and quantile. */
const PERCENTILE_OF: Partial<Record<ComparedMetric, [keyof AggregateIntervals, keyof PercentileIntervals]>> = {
  ttftP50: ['ttft', 'p50'],
  ttftP90: ['ttft', 'p90'],
  ttftP99: ['ttft', 'p99'],
  itlP50: ['itl', 'p50'],
  itlP99: ['itl', 'p99'],
  durationP50: ['duration', 'p50'],
  durationP90: ['duration', 'p90'],
  durationP99: ['duration', 'p99'],
};

function evidenceOf(aggregate: Aggregate): Partial<Record<ComparedMetric, Evidence>> {
  const evidence: Partial<Record<ComparedMetric, Evidence>> = {
    errorRate: { hits: aggregate.errors, n: aggregate.responses },
    reuseRatio: { hits: aggregate.reusedResponses, n: aggregate.connectionResponses },
  };
  for (const [metric, [histogram, quantile]] of Object.entries(PERCENTILE_OF)) {
    const interval = aggregate.intervals?.[histogram][quantile];
    if (interval) evidence[metric as ComparedMetric] = { interval };
  }
  return evidence;
}

/** Whether two sides' evidence shows a difference (confidence.ts); null when a side has none. */
function significance(candidate: Evidence | undefined, baseline: Evidence | undefined): boolean | null {
  if (candidate && baseline && 'interval' in candidate && 'interval' in baseline) return !intervalsOverlap(candidate.interval, baseline.interval);
  if (candidate && baseline && 'hits' in candidate && 'hits' in baseline) return ratesDiffer(candidate.hits, candidate.n, baseline.hits, baseline.n);
  return null;
}

export function percentDifference(candidate: number | null, baseline: number | null): number | null {
  if (candidate === null || baseline === null || baseline === 0) return null;
  return ((candidate - baseline) / baseline) * 100;
}

/** Whether a difference of `percent` makes the candidate the better; null when level or not comparable. */
export function improvement(percent: number | null, better: 'lower' | 'higher'): boolean | null {
  if (percent === null || Math.abs(percent) <= LEVEL_PERCENT + LEVEL_ROUNDING) return null;
  return (percent < 0) === (better === 'lower');
}

function differences(candidate: TransportColumn, baseline: TransportColumn): Difference[] {
  return COMPARED_METRICS.map(({ key, better }) => {
    const percent = percentDifference(candidate.values[key], baseline.values[key]);
    const significant = significance(candidate.evidence[key], baseline.evidence[key]);
    return { metric: key, percent, significant, improved: significant === false ? null : improvement(percent, better) };
  });
}

/** Transports in display order: WebSocket first, then the HTTP family, then anything else. */
const TRANSPORT_ORDER = ['websocket', 'sse', 'http'];

function transportRank(transport: string): number {
  const rank = TRANSPORT_ORDER.indexOf(transport);
  return rank === -1 ? TRANSPORT_ORDER.length : rank;
}

/** The transport filter is ignored: comparing transports is the point of this view. */
export async function compareTransports(db: Db, filter: DashboardFilter, source: PercentileSource = percentileSource(filter), now = Date.now()): Promise<Comparison> {
  const all = { ...filter, transport: undefined };
  const [aggregates, transportHandshakes] = await Promise.all([
    aggregateResponses(db, all, { by: ['model', 'transport'], source, intervals: true }),
    handshakes(db, all, source),
  ]);
  const span = coveredSpan(filter, source, now);
  const byModel = new Map<string, TransportColumn[]>();
  for (const aggregate of aggregates) {
    const model = aggregate.model ?? '';
    const transport = aggregate.transport ?? '';
    const stats = transportHandshakes.find((h) => h.transport === transport);
    const columns = byModel.get(model) ?? [];
    columns.push({ transport, responses: aggregate.responses, values: metricValues(aggregate, stats, span), evidence: evidenceOf(aggregate) });
    byModel.set(model, columns);
  }
  const models = [...byModel].map(([model, transports]): ModelComparison => {
    transports.sort((a, b) => transportRank(a.transport) - transportRank(b.transport));
    const candidate = transports.find((t) => t.transport === 'websocket');
    const baseline = transports.find((t) => t.transport === 'sse') ?? transports.find((t) => t.transport === 'http');
    return {
      model,
      transports,
      candidate: candidate?.transport ?? null,
      baseline: baseline?.transport ?? null,
      differences: candidate && baseline ? differences(candidate, baseline) : [],
    };
  });
  return { source, models };
}
