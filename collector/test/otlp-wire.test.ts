/*
 * Proves the .proto files against the bytes the official exporters write: a wrong field
 * number would decode as a missing or misplaced value here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { decodeTraceRequest } from '../otlp/decode';
import { ExportMetricsServiceRequest, ExportTraceServiceRequest } from '../otlp/messages';
import { startCaptureServer, type CaptureServer } from './support/capture-server';
import { emitSpans, hrTimeAt, recentHrTime } from './support/spans';

const TO_OBJECT = { longs: String, enums: Number, bytes: String, defaults: false, arrays: true } as const;

describe('OTLP .proto definitions against the official exporters', () => {
  let capture: CaptureServer;
  before(async () => {
    capture = await startCaptureServer();
  });
  after(() => capture.close());

  const start = recentHrTime();
  const end = hrTimeAt(start, 1234.5);
  const startNanos = BigInt(start[0]) * 1_000_000_000n + BigInt(start[1]);
  const spec = {
    name: 'chat gpt-test',
    kind: SpanKind.CLIENT,
    startTime: start,
    endTime: end,
    status: { code: SpanStatusCode.ERROR, message: 'stream failed' },
    attributes: { text: 'hello', flag: true, int: 42, double: 2.5, ints: [10, 20, 30], texts: ['a', 'b'] },
    events: [{ name: 'token', attributes: { index: 1 }, time: hrTimeAt(start, 10) }],
  };

  async function captureTraces(exporter: 'protobuf' | 'json') {
    capture.requests.length = 0;
    const [ids] = await emitSpans(
      {
        url: `${capture.url}/v1/traces`,
        exporter,
        resource: { 'service.name': 'wire-test', 'host.cores': 2 },
        scope: { name: 'wire-scope', version: '1.2.3' },
      },
      [spec],
    );
    assert.equal(capture.requests.length, 1);
    return { ids, body: capture.requests[0].body };
  }

  test('a protobuf trace export decodes to the span that was recorded', async () => {
    const { ids, body } = await captureTraces('protobuf');
    const { spans, rejected } = decodeTraceRequest(body, 'protobuf');
    assert.deepEqual(rejected, []);
    assert.equal(spans.length, 1);
    const span = spans[0];
    assert.equal(span.traceId, ids.traceId);
    assert.equal(span.spanId, ids.spanId);
    assert.equal(span.parentSpanId, null);
    assert.equal(span.name, spec.name);
    assert.equal(span.kind, 3); // SPAN_KIND_CLIENT
    assert.equal(span.startTimeUnixNano, startNanos);
    assert.equal(span.endTimeUnixNano, startNanos + 1_234_500_000n);
    assert.equal(span.durationMs, 1234.5);
    assert.deepEqual({ ...span.attributes }, spec.attributes);
    assert.deepEqual({ ...span.resource }, { 'service.name': 'wire-test', 'host.cores': 2 });
    assert.deepEqual(span.scope, { name: 'wire-scope', version: '1.2.3' });
    assert.deepEqual(span.status, { error: true, message: 'stream failed' });

    // Fields the normalised span leaves out still sit at the numbers the exporter used.
    const raw = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), TO_OBJECT);
    const event = raw.resourceSpans[0].scopeSpans[0].spans[0].events[0];
    assert.equal(event.name, 'token');
    assert.equal(event.timeUnixNano, String(startNanos + 10_000_000n));
    assert.deepEqual(event.attributes, [{ key: 'index', value: { intValue: '1' } }]);
  });

  test('the JSON exporter (hex ids, camelCase keys) decodes to the same span', async () => {
    const fromProtobuf = decodeTraceRequest((await captureTraces('protobuf')).body, 'protobuf').spans[0];
    const { ids, body } = await captureTraces('json');
    const { spans, rejected } = decodeTraceRequest(body, 'json');
    assert.deepEqual(rejected, []);
    assert.deepEqual({ ...spans[0], attributes: { ...spans[0].attributes }, resource: { ...spans[0].resource } }, {
      ...fromProtobuf,
      ...ids,
      attributes: { ...fromProtobuf.attributes },
      resource: { ...fromProtobuf.resource },
    });
  });

  test('a protobuf metrics export decodes with every data point kind in place', async () => {
    capture.requests.length = 0;
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${capture.url}/v1/metrics` }),
      exportIntervalMillis: 60_000,
    });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'wire-test' }),
      readers: [reader],
      views: [{ instrumentName: 'exp.latency', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    });
    const meter = provider.getMeter('wire-meter', '4.5.6');
    meter.createCounter('requests').add(3, { route: 'a' });
    const latency = meter.createHistogram('gen_ai.client.operation.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.1, 1] } });
    for (const v of [0.05, 0.5, 2]) latency.record(v);
    const exp = meter.createHistogram('exp.latency');
    for (const v of [1, 2, 4]) exp.record(v);
    meter.createGauge('open.connections').record(7);
    await provider.forceFlush();
    await provider.shutdown();

    assert.ok(capture.requests.length >= 1);
    const request = ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(capture.requests[0].body), TO_OBJECT);
    const [resourceMetrics] = request.resourceMetrics;
    assert.deepEqual(resourceMetrics.resource.attributes, [{ key: 'service.name', value: { stringValue: 'wire-test' } }]);
    const [scopeMetrics] = resourceMetrics.scopeMetrics;
    assert.deepEqual([scopeMetrics.scope.name, scopeMetrics.scope.version], ['wire-meter', '4.5.6']);
    const byName = Object.fromEntries(scopeMetrics.metrics.map((m: { name: string }) => [m.name, m]));

    const sum = byName.requests.sum;
    assert.equal(sum.isMonotonic, true);
    assert.equal(sum.aggregationTemporality, 2); // CUMULATIVE
    assert.equal(sum.dataPoints[0].asDouble ?? Number(sum.dataPoints[0].asInt), 3);
    assert.deepEqual(sum.dataPoints[0].attributes, [{ key: 'route', value: { stringValue: 'a' } }]);

    const histogram = byName['gen_ai.client.operation.duration'];
    assert.equal(histogram.unit, 's');
    const point = histogram.histogram.dataPoints[0];
    assert.equal(point.count, '3');
    assert.equal(point.sum, 2.55);
    assert.deepEqual(point.explicitBounds, [0.1, 1]);
    assert.deepEqual(point.bucketCounts, ['1', '1', '1']);
    assert.equal(point.min, 0.05);
    assert.equal(point.max, 2);

    const expPoint = byName['exp.latency'].exponentialHistogram.dataPoints[0];
    assert.equal(expPoint.count, '3');
    assert.equal(expPoint.sum, 7);
    assert.equal(typeof expPoint.scale, 'number');
    const positive = expPoint.positive.bucketCounts.map(Number).reduce((a: number, b: number) => a + b, 0);
    assert.equal(positive, 3);
    assert.equal(expPoint.min, 1);
    assert.equal(expPoint.max, 4);

    const gauge = byName['open.connections'].gauge.dataPoints[0];
    assert.equal(gauge.asDouble ?? Number(gauge.asInt), 7);
  });
});
