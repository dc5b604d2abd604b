/*
 * POST /v1/metrics of a running collector, fed by the official OTLP metric exporters with
 * real SDK histograms; GET /metrics exposes what they merged.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { eq, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Attributes } from '@opentelemetry/api';
import { OTLPMetricExporter as OTLPMetricExporterJson, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricExporterProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { openStore, type Store } from '../../db/client';
import { histogramCount, histogramQuantiles } from '../../db/histogram';
import { rollups1m, type HistogramBuckets } from '../../db/schema';
import { describeEachDatabase } from '../../test/support/databases';
import { RequestError, WriteUnavailableError } from '../errors';
import type { OtlpEncoding } from '../otlp/decode';
import { PROMETHEUS_PATH } from '../prometheus/index';
import { startCollector } from '../server';
import { encodeExportMetricsResponse, handleMetricsExport, METRICS_PATH } from './index';

const EXPORTERS = { protobuf: OTLPMetricExporterProto, json: OTLPMetricExporterJson } as const;
/** The GenAI conventions' advised boundaries for durations, seconds. */
const DURATION_BOUNDS_S = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384];

interface Receiver {
  /** POST /v1/metrics of a running collector. */
  url: string;
  /** GET /metrics of the same collector. */
  prometheusUrl: string;
  close(): Promise<void>;
}

async function startReceiver(store: Store): Promise<Receiver> {
  const collector = await startCollector({ store, port: 0 });
  return {
    url: `${collector.url}${METRICS_PATH}`,
    prometheusUrl: `${collector.url}${PROMETHEUS_PATH}`,
    close: () => collector.close(),
  };
}

interface Meters {
  provider: MeterProvider;
  duration: (seconds: number, attributes?: Attributes) => void;
  ttft: (seconds: number) => void;
  itl: (seconds: number) => void;
  tokens: (n: number, type: 'input' | 'output') => void;
  other: (value: number) => void;
}

const MODEL = 'gpt-4.1-mini';

function meters(url: string, exporter: OtlpEncoding, service: string, options: { delta?: boolean; exponential?: boolean } = {}): Meters {
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    readers: [new PeriodicExportingMetricReader({
      exporter: new EXPORTERS[exporter]({
        url,
        temporalityPreference: options.delta ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE,
      }),
      exportIntervalMillis: 3_600_000,
    })],
    views: options.exponential
      ? [{ instrumentName: 'gen_ai.client.operation.time_to_first_chunk', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }]
      : [],
  });
  const meter = provider.getMeter('app-metrics');
  const seconds = (name: string) => meter.createHistogram(name, { unit: 's', advice: { explicitBucketBoundaries: DURATION_BOUNDS_S } });
  const duration = seconds('gen_ai.client.operation.duration');
  const ttft = seconds('gen_ai.client.operation.time_to_first_chunk');
  const itl = seconds('gen_ai.client.operation.time_per_output_chunk');
  const tokens = meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}', advice: { explicitBucketBoundaries: TOKEN_BOUNDS } });
  const other = meter.createHistogram('http.client.request.duration', { unit: 's' });
  const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': MODEL, 'streamscope.transport': 'sse' };
  return {
    provider,
    duration: (s, attributes = {}) => duration.record(s, { ...base, ...attributes }),
    ttft: (s) => ttft.record(s, base),
    itl: (s) => itl.record(s, base),
    tokens: (n, type) => tokens.record(n, { ...base, 'gen_ai.token.type': type }),
    other: (value) => other.record(value),
  };
}

/**
 * A service's rollups per model and transport, its minutes merged by the database's own
 * aggregates: two exports a moment apart may land on either side of a minute's end.
 */
async function rollupsOf(store: Store, service: string) {
  const sum = (column: AnyPgColumn) => sql<number>`sum(${column})`.mapWith(Number);
  const hist = (column: AnyPgColumn) => sql<HistogramBuckets>`streamscope_hist_sum(${column})`;
  const r = rollups1m;
  return store.db
    .select({
      model: r.model,
      transport: r.transport,
      responses: sum(r.responses),
      errors: sum(r.errors),
      withOutput: sum(r.withOutput),
      inputTokens: sum(r.inputTokens),
      outputTokens: sum(r.outputTokens),
      ttftSumMs: sum(r.ttftSumMs),
      durationSumMs: sum(r.durationSumMs),
      ttftMaxMs: sql<number | null>`max(${r.ttftMaxMs})`.mapWith(Number),
      ttftHist: hist(r.ttftHist),
      itlHist: hist(r.itlHist),
      durationHist: hist(r.durationHist),
    })
    .from(r)
    .where(eq(r.service, service))
    .groupBy(r.model, r.transport);
}

/** An OTLP/JSON request of one operation-duration point, every value in the (0.1, 0.2] s bucket. */
function durationBody(service: string, temporality: 1 | 2, startMs: number, timeMs: number, count: number): Buffer {
  const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n);
  return Buffer.from(JSON.stringify({
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
      scopeMetrics: [{
        metrics: [{
          name: 'gen_ai.client.operation.duration',
          unit: 's',
          histogram: {
            aggregationTemporality: temporality,
            dataPoints: [{
              attributes: [{ key: 'gen_ai.request.model', value: { stringValue: MODEL } }],
              startTimeUnixNano: nanos(startMs), timeUnixNano: nanos(timeMs),
              count: String(count), sum: 0.15 * count, explicitBounds: [0.1, 0.2], bucketCounts: ['0', String(count), '0'],
            }],
          },
        }],
      }],
    }],
  }));
}

describeEachDatabase('OTLP metrics into rollups', (database) => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver(database().store);
  });
  after(() => receiver.close());

  for (const exporter of ['protobuf', 'json'] as const) {
    test(`${exporter}: GenAI histograms become counts, token sums and latency percentiles (cumulative, exported twice)`, async () => {
      const service = `metrics-${exporter}`;
      const m = meters(receiver.url, exporter, service);
      const ttfts = [0.1, 0.12, 0.15, 0.3, 0.9];
      for (const s of ttfts) {
        m.ttft(s);
        m.duration(s + 0.5);
        m.tokens(20, 'input');
        m.tokens(50, 'output');
      }
      for (const gap of [0.012, 0.015, 0.02, 0.03]) m.itl(gap);
      m.other(1);
      await m.provider.forceFlush();
      // The second export repeats the whole history: only what is new may count.
      m.duration(2, { 'error.type': 'timeout' });
      m.tokens(7, 'input');
      await m.provider.forceFlush();
      await m.provider.shutdown();

      const rows = await rollupsOf(database().store, service);
      assert.equal(rows.length, 1);
      const [row] = rows;
      assert.equal(row.model, MODEL);
      assert.equal(row.transport, 'sse');
      assert.equal(row.responses, 6);
      assert.equal(row.errors, 1);
      assert.equal(row.withOutput, 5);
      assert.equal(row.inputTokens, 5 * 20 + 7);
      assert.equal(row.outputTokens, 5 * 50);
      assert.ok(Math.abs(row.ttftSumMs - 1570) < 1e-6, String(row.ttftSumMs));
      assert.ok(Math.abs(row.durationSumMs - (1570 + 2500 + 2000)) < 1e-6, String(row.durationSumMs));
      assert.equal(histogramCount(row.ttftHist), 5);
      assert.equal(histogramCount(row.itlHist), 4);
      assert.equal(histogramCount(row.durationHist), 6);
      // The median TTFT (120 ms) lies in the (80, 160] ms bucket, narrowed to [100, 160] by the
      // point's min: read back at that range's midpoint, ±1 % (our log buckets).
      const [p50] = histogramQuantiles(row.ttftHist, [0.5]);
      assert.ok(p50 !== null && Math.abs(p50 - 130) <= 1.3, String(p50));
      // The largest lies in the (640, 1280] ms bucket, clamped to the point's max (900 ms) as its upper edge.
      const [p100] = histogramQuantiles(row.ttftHist, [1]);
      assert.ok(p100 !== null && Math.abs(p100 - 770) <= 7.7, String(p100));
      assert.equal(row.ttftMaxMs, 900);

      // The same minutes are what the collector's Prometheus endpoint exposes.
      const exposition = await (await fetch(receiver.prometheusUrl)).text();
      assert.match(exposition, new RegExp(`streamscope_ttft_seconds\\{[^}]*service="${service}"[^}]*quantile="0.5"[^}]*\\} 0\\.1[23]`));
    });
  }

  test('delta temporality: each export is merged as it is', async () => {
    const service = 'metrics-delta';
    const m = meters(receiver.url, 'protobuf', service, { delta: true });
    m.duration(0.2);
    await m.provider.forceFlush();
    m.duration(0.3);
    m.duration(0.4);
    await m.provider.forceFlush();
    await m.provider.shutdown();
    const [row] = await rollupsOf(database().store, service);
    assert.equal(row.responses, 3);
    assert.ok(Math.abs(row.durationSumMs - 900) < 1e-6);
  });

  test('exponential histograms: buckets at their midpoints, within the scale\'s resolution', async () => {
    const service = 'metrics-exponential';
    const m = meters(receiver.url, 'protobuf', service, { exponential: true });
    for (const s of [0.1, 0.2, 0.4]) m.ttft(s);
    await m.provider.forceFlush();
    m.ttft(0.8);
    await m.provider.forceFlush();
    await m.provider.shutdown();
    const [row] = await rollupsOf(database().store, service);
    assert.equal(row.withOutput, 4);
    assert.equal(histogramCount(row.ttftHist), 4);
    const quantiles = histogramQuantiles(row.ttftHist, [0, 1 / 3, 2 / 3, 1]);
    [100, 200, 400, 800].forEach((expected, i) => {
      // The SDK's default scale (20, lowered to fit) leaves buckets far narrower than 1 %.
      assert.ok(Math.abs((quantiles[i] ?? 0) - expected) <= expected * 0.02, `${quantiles[i]} for ${expected}`);
    });
  });

  test('a GenAI-named point that is not a histogram is rejected; a request of nothing else is a 400', async () => {
    const body = JSON.stringify({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'metrics-bad' } }] },
        scopeMetrics: [{
          scope: { name: 'custom' },
          metrics: [{
            name: 'gen_ai.client.operation.duration',
            unit: 's',
            gauge: { dataPoints: [{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), asDouble: 0.5 }] },
          }],
        }],
      }],
    });
    await assert.rejects(handleMetricsExport(database().store, Buffer.from(body), 'json'), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.equal(error.status, 400);
      assert.match(error.message, /must be a histogram/);
      return true;
    });
  });

  test('bucket counts that do not add up to the count are rejected as partial success', async () => {
    const now = String(BigInt(Date.now()) * 1_000_000n);
    const point = (count: string, bucketCounts: string[]) => ({
      startTimeUnixNano: now, timeUnixNano: now, count, sum: 0.1, explicitBounds: [0.1], bucketCounts,
    });
    const body = JSON.stringify({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'metrics-partial' } }] },
        scopeMetrics: [{
          metrics: [{
            name: 'gen_ai.client.operation.duration',
            unit: 's',
            histogram: { aggregationTemporality: 1, dataPoints: [point('1', ['1', '0']), point('5', ['1', '1'])] },
          }],
        }],
      }],
    });
    const result = await handleMetricsExport(database().store, Buffer.from(body), 'json');
    assert.equal(result.acceptedPoints, 1);
    assert.equal(result.rejectedPoints, 1);
    assert.match(result.message, /bucket counts add up to 2, count is 5/);
    const [row] = await rollupsOf(database().store, 'metrics-partial');
    assert.equal(row.responses, 1);
  });

  test('exporter retries: a request refused with 503 counts in full when sent again, one already stored adds nothing', async () => {
    const { store } = database();
    const service = 'metrics-retry';
    const start = Date.now() - 60_000;
    const cumulative = (count: number, at: number) => durationBody(service, 2, start, at, count);
    // The points span two or three minutes: count over all of the service's rows.
    const responses = async () => (await rollupsOf(store, service)).reduce((n, row) => n + row.responses, 0);
    const refuse = sql.raw(`alter table rollups_1m add constraint refuse_retry_test check (service <> '${service}') not valid`);
    await store.db.execute(refuse);
    try {
      await assert.rejects(handleMetricsExport(store, cumulative(3, start + 10_000), 'json'), (error: unknown) => {
        assert.ok(error instanceof WriteUnavailableError, String(error));
        return true;
      });
    } finally {
      await store.db.execute(sql`alter table rollups_1m drop constraint refuse_retry_test`);
    }
    // The exporter sends the refused request again, and then once more as if the answer had been lost.
    await handleMetricsExport(store, cumulative(3, start + 10_000), 'json');
    await handleMetricsExport(store, cumulative(3, start + 10_000), 'json');
    assert.equal(await responses(), 3);
    // Two copies of the next export at once (a retry racing the original) count once.
    await Promise.all([handleMetricsExport(store, cumulative(5, start + 20_000), 'json'), handleMetricsExport(store, cumulative(5, start + 20_000), 'json')]);
    assert.equal(await responses(), 5);
    // A delta point sent twice counts once; the next interval's point counts.
    const delta = (count: number, from: number) => durationBody(service, 1, from, from + 10_000, count);
    await handleMetricsExport(store, delta(4, start + 30_000), 'json');
    await handleMetricsExport(store, delta(4, start + 30_000), 'json');
    await handleMetricsExport(store, delta(2, start + 40_000), 'json');
    assert.equal(await responses(), 11);
  });

  test('a delta point sent to two collectors on one database counts once', async () => {
    const { store, databaseUrl, kind } = database();
    // On Postgres a second store is a second collector; PGlite has one, whose memory the table backs.
    const other = kind === 'postgres' ? await openStore({ databaseUrl, maxConnections: 2 }) : store;
    try {
      const service = 'metrics-two-collectors';
      const at = Date.now() - 30_000;
      const body = durationBody(service, 1, at, at + 10_000, 3);
      await Promise.all([handleMetricsExport(store, body, 'json'), handleMetricsExport(other, body, 'json')]);
      await handleMetricsExport(other, body, 'json');
      const rows = await rollupsOf(store, service);
      assert.equal(rows.reduce((n, row) => n + row.responses, 0), 3);
    } finally {
      if (other !== store) await other.close();
    }
  });

  test('a cumulative series counts each point once, whichever collector it reaches and after a restart', async () => {
    const { store, databaseUrl, kind } = database();
    // On Postgres each store is a collector of its own; PGlite has one, whose state is the tables.
    const collector = () => (kind === 'postgres' ? openStore({ databaseUrl, maxConnections: 2 }) : Promise.resolve(store));
    const [a, b] = [await collector(), await collector()];
    const service = 'metrics-cumulative-collectors';
    const start = Date.now() - 60_000;
    const point = (count: number, afterMs: number) => durationBody(service, 2, start, start + afterMs, count);
    const responses = async () => (await rollupsOf(store, service)).reduce((n, row) => n + row.responses, 0);
    try {
      await handleMetricsExport(a, point(3, 10_000), 'json');
      assert.equal(await responses(), 3, 'a young series counts whole');
      await handleMetricsExport(b, point(5, 20_000), 'json');
      assert.equal(await responses(), 5, 'the other collector adds the difference');
      // A retry of that point reaching the first collector, racing the next point on the second.
      await Promise.all([handleMetricsExport(a, point(5, 20_000), 'json'), handleMetricsExport(b, point(8, 30_000), 'json')]);
      assert.equal(await responses(), 8);
      await handleMetricsExport(a, point(6, 25_000), 'json');
      assert.equal(await responses(), 8, 'a point older than the last merged one adds nothing');
      const restarted = await collector();
      try {
        await handleMetricsExport(restarted, point(9, 40_000), 'json');
      } finally {
        if (restarted !== store) await restarted.close();
      }
      assert.equal(await responses(), 9, 'a collector started since knows the series');
    } finally {
      for (const other of [a, b]) if (other !== store) await other.close();
    }
  });

  test('malformed bodies are a 400 in either encoding', async () => {
    for (const [body, encoding] of [[Buffer.from('{"resourceMetrics": 5'), 'json'], [gzipSync('not protobuf'), 'protobuf']] as const) {
      await assert.rejects(handleMetricsExport(database().store, body, encoding), (error: unknown) => error instanceof RequestError && error.status === 400);
    }
  });
});

test('the success body is an empty ExportMetricsServiceResponse; partial success carries the count', () => {
  assert.equal(encodeExportMetricsResponse('json').toString(), '{}');
  assert.equal(encodeExportMetricsResponse('protobuf').length, 0);
  assert.deepEqual(JSON.parse(encodeExportMetricsResponse('json', 2, 'why').toString()), {
    partialSuccess: { rejectedDataPoints: '2', errorMessage: 'why' },
  });
});
