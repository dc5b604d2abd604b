/*
 * WebSocket against HTTP/SSE on the same model: latency percentiles, throughput, and what
 * each response pays for its connection. The handshake (DNS + TCP + TLS + upgrade) of a
 * connection is amortised over the responses it carried, which is where a persistent
 * socket earns its keep.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client';
import { HANDSHAKE_MS } from '../handshake';
import { queryRows } from '../rows';
import { aggregateResponses, type Aggregate } from './aggregate';
import { filterConditions, percentileSource, rangeSeconds, type DashboardFilter, type PercentileSource } from './filter';

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

export interface TransportColumn {
  transport: string;
  responses: number;
  values: MetricValues;
}

export interface Difference {
  metric: ComparedMetric;
  /** (candidate − baseline) / baseline × 100; null when either side is missing or the baseline is 0. */
  percent: number | null;
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

interface ConnectionStats extends Record<string, unknown> {
  k_model: string;
  k_transport: string;
  responses: number;
  reused: number;
  connections: number;
  measured_responses: number;
  handshake_ms: number;
}

/** Per model and transport: connections used, reuse, and handshake time of the measured ones. */
async function connectionStats(db: Db, filter: DashboardFilter): Promise<ConnectionStats[]> {
  return queryRows<ConnectionStats>(
    db,
    sql`with used as (
          select coalesce(model, '') as k_model, coalesce(transport, '') as k_transport, connection_id,
                 count(*) as responses, count(*) filter (where connection_reused) as reused
          from responses
          where ${filterConditions(filter, sql`start_time`, ['service', 'model'])} and connection_id is not null
          group by 1, 2, 3
        ), handshakes as (
          select connection_id,
                 max(${HANDSHAKE_MS}) as handshake_ms
          from connections where connection_id in (select connection_id from used)
          group by connection_id
        )
        select k_model, k_transport,
               sum(u.responses)::float8 as responses,
               sum(u.reused)::float8 as reused,
               count(*)::float8 as connections,
               coalesce(sum(u.responses) filter (where h.connection_id is not null), 0)::float8 as measured_responses,
               coalesce(sum(h.handshake_ms), 0)::float8 as handshake_ms
        from used u left join handshakes h on h.connection_id = u.connection_id
        group by k_model, k_transport`,
  );
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? numerator / denominator : null;
}

function metricValues(aggregate: Aggregate, connections: ConnectionStats | undefined, seconds: number): MetricValues {
  const c = connections && {
    responses: Number(connections.responses),
    reused: Number(connections.reused),
    connections: Number(connections.connections),
    measured: Number(connections.measured_responses),
    handshakeMs: Number(connections.handshake_ms),
  };
  return {
    ttftP50: aggregate.ttft.p50,
    ttftP90: aggregate.ttft.p90,
    ttftP99: aggregate.ttft.p99,
    itlP50: aggregate.itl.p50,
    itlP99: aggregate.itl.p99,
    durationP50: aggregate.duration.p50,
    durationP90: aggregate.duration.p90,
    durationP99: aggregate.duration.p99,
    responsesPerSecond: aggregate.responses / seconds,
    streamTokensPerSecond: ratio(aggregate.generationTokens, aggregate.generationSeconds),
    connectionOverheadMs: c ? ratio(c.handshakeMs, c.measured) : null,
    bytesPerResponse: ratio(aggregate.bytes, aggregate.responses),
    reuseRatio: c ? ratio(c.reused, c.responses) : null,
    responsesPerConnection: c ? ratio(c.responses, c.connections) : null,
    errorRate: ratio(aggregate.errors, aggregate.responses),
  };
}

export function percentDifference(candidate: number | null, baseline: number | null): number | null {
  if (candidate === null || baseline === null || baseline === 0) return null;
  return ((candidate - baseline) / baseline) * 100;
}

function differences(candidate: TransportColumn, baseline: TransportColumn): Difference[] {
  return COMPARED_METRICS.map(({ key, better }) => {
    const percent = percentDifference(candidate.values[key], baseline.values[key]);
    return { metric: key, percent, improved: percent === null || percent === 0 ? null : (percent < 0) === (better === 'lower') };
  });
}

/** Transports in display order: WebSocket first, then the HTTP family, then anything else. */
const TRANSPORT_ORDER = ['websocket', 'sse', 'http'];

function transportRank(transport: string): number {
  const rank = TRANSPORT_ORDER.indexOf(transport);
  return rank === -1 ? TRANSPORT_ORDER.length : rank;
}

/** The transport filter is ignored: comparing transports is the point of this view. */
export async function compareTransports(db: Db, filter: DashboardFilter, source: PercentileSource = percentileSource(filter)): Promise<Comparison> {
  const all = { ...filter, transport: undefined };
  const [aggregates, connections] = await Promise.all([
    aggregateResponses(db, all, { by: ['model', 'transport'], source }),
    connectionStats(db, all),
  ]);
  const seconds = rangeSeconds(filter);
  const byModel = new Map<string, TransportColumn[]>();
  for (const aggregate of aggregates) {
    const model = aggregate.model ?? '';
    const transport = aggregate.transport ?? '';
    const stats = connections.find((c) => c.k_model === model && c.k_transport === transport);
    const columns = byModel.get(model) ?? [];
    columns.push({ transport, responses: aggregate.responses, values: metricValues(aggregate, stats, seconds) });
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
