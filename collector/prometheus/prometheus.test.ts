/*
 * The /metrics text: every line in the exposition format, and the seeded traffic and the
 * collector's counters read back from it.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { writeBatch } from '../../db/ingest';
import type { NewResponseRow } from '../../db/schema';
import { describeEachDatabase } from '../../test/support/databases';
import type { CollectorStats } from '../server';
import { renderPrometheusMetrics } from './index';

const NOW = Date.now();
/** A service name that needs escaping in a label value. */
const SERVICE = 'chat "edge" \\ api';

function response(i: number, overrides: Partial<NewResponseRow> = {}): NewResponseRow {
  return {
    traceId: (i + 1).toString(16).padStart(32, 'a'),
    spanId: (i + 1).toString(16).padStart(16, 'b'),
    service: SERVICE,
    model: 'gpt-4.1-mini',
    transport: 'websocket',
    startTime: new Date(NOW - 30_000),
    // 90, 190, …, 990 ms: clear of every `le` bound, so each lands in a known bucket.
    ttftMs: 90 + 100 * i,
    durationMs: 1050 + 100 * i,
    inputTokens: 10,
    outputTokens: 40,
    tokenOffsetsUs: [0, 20_000, 40_000].map((us) => us + (90 + 100 * i) * 1000),
    status: i < 2 ? 'error' : 'ok',
    ...overrides,
  };
}

const STATS: CollectorStats = {
  exportRequests: 7, spansReceived: 12, spansRejected: 1, spansIgnored: 2, responsesInserted: 9,
  connectionsInserted: 3, writeFailures: 0, queueFullRejections: 4, writeTransactions: 5,
};

const LINE = {
  help: /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/,
  type: /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter)$/,
  sample: /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*")*\})? (NaN|[+-]Inf|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/,
};

/** Samples by `name{labels}` as written, after checking every line's form and family order. */
function parse(text: string): Map<string, number> {
  assert.ok(text.endsWith('\n'));
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP')) {
      assert.match(line, LINE.help);
      continue;
    }
    const type = LINE.type.exec(line);
    if (type) {
      assert.ok(!typed.has(type[1]), `a second TYPE line for ${type[1]}`);
      typed.add(type[1]);
      continue;
    }
    const sample = LINE.sample.exec(line);
    assert.ok(sample, `not a sample line: ${line}`);
    assert.ok(typed.has(sample[1]), `${sample[1]} has no TYPE line before its samples`);
    samples.set(line.slice(0, line.lastIndexOf(' ')), Number(sample[3]));
  }
  return samples;
}

const labels = `service="chat \\"edge\\" \\\\ api",model="gpt-4.1-mini",transport="websocket"`;

describeEachDatabase('Prometheus exposition', (database) => {
  let samples: Map<string, number>;
  before(async () => {
    const responses = Array.from({ length: 10 }, (_, i) => response(i));
    // Outside the window: must not show.
    responses.push(response(10, { service: 'old-service', startTime: new Date(NOW - 20 * 60_000) }));
    await writeBatch(database().store, { responses, connections: [] });
    const queue = { requests: 2, decoding: 1, bytes: 4096, maxBytes: 1 << 26, writing: 1 };
    samples = parse(await renderPrometheusMetrics(database().store, STATS, { queue, nowMs: NOW }));
  });

  test('rates over the window carry the seeded counts', () => {
    const window = samples.get('streamscope_window_seconds');
    assert.ok(window !== undefined && window > 4 * 60 && window <= 5 * 60);
    const perWindow = (name: string) => (samples.get(`${name}{${labels}}`) ?? Number.NaN) * window;
    assert.ok(Math.abs(perWindow('streamscope_responses_per_second') - 10) < 1e-9);
    assert.ok(Math.abs(perWindow('streamscope_errors_per_second') - 2) < 1e-9);
    assert.ok(Math.abs(perWindow('streamscope_input_tokens_per_second') - 100) < 1e-9);
    assert.ok(Math.abs(perWindow('streamscope_output_tokens_per_second') - 400) < 1e-9);
    assert.ok(![...samples.keys()].some((key) => key.includes('old-service')));
  });

  test('latency quantiles and gauge-histogram buckets carry the seeded TTFTs (90 … 990 ms)', () => {
    const p50 = samples.get(`streamscope_ttft_seconds{${labels},quantile="0.5"}`);
    assert.ok(p50 !== undefined && Math.abs(p50 - 0.49) <= 0.0049, String(p50));
    // Rank 0.99·(10−1) = 8.91 falls on the ninth value, as db/histogram.ts ranks.
    const p99 = samples.get(`streamscope_ttft_seconds{${labels},quantile="0.99"}`);
    assert.ok(p99 !== undefined && Math.abs(p99 - 0.89) <= 0.0089, String(p99));
    const bucket = (le: string) => samples.get(`streamscope_ttft_seconds_bucket{${labels},le="${le}"}`);
    assert.equal(bucket('0.05'), 0);
    assert.equal(bucket('0.1'), 1);
    assert.equal(bucket('0.25'), 2);
    assert.equal(bucket('0.5'), 5);
    assert.equal(bucket('1'), 10);
    assert.equal(bucket('+Inf'), 10);
    // Two 20 ms gaps per response.
    assert.equal(samples.get(`streamscope_itl_seconds_bucket{${labels},le="+Inf"}`), 20);
    const itl = samples.get(`streamscope_itl_seconds{${labels},quantile="0.5"}`);
    assert.ok(itl !== undefined && Math.abs(itl - 0.02) <= 0.0002);
    assert.equal(samples.get(`streamscope_duration_seconds_bucket{${labels},le="1"}`), 0);
    assert.equal(samples.get(`streamscope_duration_seconds_bucket{${labels},le="2.5"}`), 10);
  });

  test('collector health: counters since start and the write queue', () => {
    assert.equal(samples.get('streamscope_collector_responses_inserted_total'), 9);
    assert.equal(samples.get('streamscope_collector_spans_rejected_total'), 1);
    assert.equal(samples.get('streamscope_collector_queue_full_rejections_total'), 4);
    assert.equal(samples.get('streamscope_collector_queue_requests'), 2);
    assert.equal(samples.get('streamscope_collector_queue_writing'), 1);
    assert.equal(samples.get('streamscope_collector_queue_decoding'), 1);
  });
});
