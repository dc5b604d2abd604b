/*
 * GET /metrics: what Streamscope observes, in the Prometheus text exposition format
 * (version 0.0.4), for Grafana and Alertmanager next to the built-in dashboard.
 *
 * Two kinds of series:
 *  - Traffic (per service, model, transport), read from the last WINDOW_MINUTES of
 *    rollups_1m at scrape time: rates and latency quantiles as gauges, and each latency
 *    histogram as gauge buckets (`le`) over the same window. They are not counters: do not
 *    rate() them; histogram_quantile() over `sum by (le)` aggregates them across series.
 *    Reading the rollups (not this process's memory) gives every collector replica the
 *    same answer, whichever replica received the spans.
 *  - Collector health of this process: counters since start (rate() them for rows/s and
 *    rejects/s) and the write queue's depth as gauges.
 */
import { gte } from 'drizzle-orm';
import type { Store } from '../../db/client';
import { bucketValue, histogramCount, histogramQuantiles, mergeHistograms } from '../../db/histogram';
import { rollups1m, type HistogramBuckets, type RollupRow } from '../../db/schema';
import { MINUTE_MS, minuteStart } from '../../db/time-buckets';
import type { CollectorStats } from '../server';
import type { QueueDepth } from '../write-queue';

export const PROMETHEUS_PATH = '/metrics';
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** The traffic window: long enough for a stable p99 at modest rates, short enough to alert on. */
export const WINDOW_MINUTES = 5;
export const QUANTILES = [0.5, 0.9, 0.99] as const;
/** Seconds; Prometheus' client defaults stretched down to inter-token gaps and up to long generations. */
export const LE_BOUNDS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

export interface PrometheusOptions {
  /** The collector's write queue, when it has one. */
  queue?: QueueDepth;
  nowMs?: number;
}


interface Traffic {
  labels: Labels;
  responses: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  ttft: HistogramBuckets;
  itl: HistogramBuckets;
  duration: HistogramBuckets;
}

type Labels = Record<string, string>;

const LATENCIES = [
  { name: 'streamscope_ttft_seconds', help: 'Time to first output token', of: (t: Traffic) => t.ttft },
  { name: 'streamscope_itl_seconds', help: 'Inter-token latency (gap between consecutive output chunks)', of: (t: Traffic) => t.itl },
  { name: 'streamscope_duration_seconds', help: 'End-to-end response duration', of: (t: Traffic) => t.duration },
] as const;

const RATES = [
  { name: 'streamscope_responses_per_second', help: 'Streamed responses per second', of: (t: Traffic) => t.responses },
  { name: 'streamscope_errors_per_second', help: 'Failed responses per second', of: (t: Traffic) => t.errors },
  { name: 'streamscope_input_tokens_per_second', help: 'Input tokens per second', of: (t: Traffic) => t.inputTokens },
  { name: 'streamscope_output_tokens_per_second', help: 'Output tokens per second', of: (t: Traffic) => t.outputTokens },
] as const;

const COUNTERS: readonly { stat: keyof CollectorStats; name: string; help: string }[] = [
  { stat: 'exportRequests', name: 'streamscope_collector_export_requests_total', help: 'OTLP trace export requests received' },
  { stat: 'spansReceived', name: 'streamscope_collector_spans_received_total', help: 'Spans received, valid or not' },
  { stat: 'spansRejected', name: 'streamscope_collector_spans_rejected_total', help: 'Spans rejected as invalid' },
  { stat: 'spansIgnored', name: 'streamscope_collector_spans_ignored_total', help: 'Valid spans that were neither responses nor connections' },
  { stat: 'responsesInserted', name: 'streamscope_collector_responses_inserted_total', help: 'Response rows written' },
  { stat: 'connectionsInserted', name: 'streamscope_collector_connections_inserted_total', help: 'Connection rows written' },
  { stat: 'writeFailures', name: 'streamscope_collector_write_failures_total', help: 'Requests answered 503 because the database write failed' },
  { stat: 'queueFullRejections', name: 'streamscope_collector_queue_full_rejections_total', help: 'Requests answered 429 because the write queue was full' },
  { stat: 'writeTransactions', name: 'streamscope_collector_write_transactions_total', help: 'Write transactions committed' },
];

const QUEUE_GAUGES: readonly { field: keyof QueueDepth; name: string; help: string }[] = [
  { field: 'requests', name: 'streamscope_collector_queue_requests', help: 'Requests admitted to the write queue: being decoded, waiting or being written' },
  { field: 'decoding', name: 'streamscope_collector_queue_decoding', help: 'Requests admitted to the write queue and still being decoded' },
  { field: 'bytes', name: 'streamscope_collector_queue_bytes', help: 'Bytes held by the write queue' },
  { field: 'maxBytes', name: 'streamscope_collector_queue_max_bytes', help: 'Capacity of the write queue, bytes' },
  { field: 'writing', name: 'streamscope_collector_queue_writing', help: 'Write transactions in flight' },
];

export async function renderPrometheusMetrics(store: Store, stats: Readonly<CollectorStats>, options: PrometheusOptions = {}): Promise<string> {
  const nowMs = options.nowMs ?? Date.now();
  // Whole minutes back from the current (partial) one, so the window is WINDOW_MINUTES long at most.
  const fromMs = minuteStart(nowMs) - (WINDOW_MINUTES - 1) * MINUTE_MS;
  const windowSeconds = Math.max(1, (nowMs - fromMs) / 1000);
  const rows = await store.db.select().from(rollups1m).where(gte(rollups1m.bucket, new Date(fromMs)));
  const traffic = groupTraffic(rows);

  const out = new Exposition();
  out.family('streamscope_window_seconds', 'gauge', `Length of the window the streamscope traffic gauges cover (the last ${WINDOW_MINUTES} rollup minutes)`);
  out.sample('streamscope_window_seconds', {}, windowSeconds);
  for (const rate of RATES) {
    out.family(rate.name, 'gauge', `${rate.help}, over the window`);
    for (const t of traffic) out.sample(rate.name, t.labels, rate.of(t) / windowSeconds);
  }
  for (const latency of LATENCIES) {
    out.family(latency.name, 'gauge', `${latency.help}, quantiles over the window (±1 %)`);
    for (const t of traffic) {
      const hist = latency.of(t);
      if (histogramCount(hist) === 0) continue;
      histogramQuantiles(hist, QUANTILES).forEach((ms, i) => {
        if (ms !== null) out.sample(latency.name, { ...t.labels, quantile: String(QUANTILES[i]) }, ms / 1000);
      });
    }
    const buckets = `${latency.name}_bucket`;
    out.family(buckets, 'gauge', `${latency.help}: observations at or below le seconds, over the window (a gauge histogram)`);
    for (const t of traffic) {
      const hist = latency.of(t);
      if (histogramCount(hist) === 0) continue;
      for (const [le, n] of cumulativeBuckets(hist)) out.sample(buckets, { ...t.labels, le }, n);
    }
  }
  for (const counter of COUNTERS) {
    out.family(counter.name, 'counter', `${counter.help}, since this collector started`);
    out.sample(counter.name, {}, stats[counter.stat]);
  }
  const queue = options.queue;
  if (queue) {
    for (const gauge of QUEUE_GAUGES) {
      out.family(gauge.name, 'gauge', gauge.help);
      out.sample(gauge.name, {}, queue[gauge.field]);
    }
  }
  return out.text();
}

function groupTraffic(rows: RollupRow[]): Traffic[] {
  const groups = new Map<string, Traffic>();
  for (const row of rows) {
    const key = `${row.service}\u0000${row.model}\u0000${row.transport}`;
    let t = groups.get(key);
    if (!t) {
      t = {
        labels: { service: row.service, model: row.model, transport: row.transport },
        responses: 0, errors: 0, inputTokens: 0, outputTokens: 0, ttft: {}, itl: {}, duration: {},
      };
      groups.set(key, t);
    }
    t.responses += row.responses;
    t.errors += row.errors;
    t.inputTokens += row.inputTokens;
    t.outputTokens += row.outputTokens;
    mergeHistograms(t.ttft, row.ttftHist);
    mergeHistograms(t.itl, row.itlHist);
    mergeHistograms(t.duration, row.durationHist);
  }
  return [...groups.values()].sort((a, b) => Object.values(a.labels).join('\u0000').localeCompare(Object.values(b.labels).join('\u0000')));
}

/** Our log buckets folded into cumulative `le` buckets, each log bucket at its representative value. */
function cumulativeBuckets(hist: HistogramBuckets): [le: string, count: number][] {
  const counts = new Array<number>(LE_BOUNDS_S.length).fill(0);
  let total = 0;
  for (const [key, n] of Object.entries(hist)) {
    const seconds = bucketValue(Number(key)) / 1000;
    const i = LE_BOUNDS_S.findIndex((le) => seconds <= le);
    if (i >= 0) counts[i] += Number(n);
    total += Number(n);
  }
  let running = 0;
  const buckets: [string, number][] = LE_BOUNDS_S.map((le, i) => {
    running += counts[i];
    return [String(le), running];
  });
  buckets.push(['+Inf', total]);
  return buckets;
}

/** The text format's rules: one HELP and TYPE per family, escaped label values, Go-style special floats. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter', help: string): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Labels, value: number): void {
    const pairs = Object.entries(labels).map(([key, v]) => `${key}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
    this.lines.push(`${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
