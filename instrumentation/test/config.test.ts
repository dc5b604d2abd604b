import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, describe, it } from 'node:test';
import type { Attributes } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SamplingDecision, SimpleSpanProcessor, type Sampler } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVER_ADDRESS } from '@opentelemetry/semantic-conventions';
import { ATTR_GEN_AI_PROVIDER_NAME, ATTR_GEN_AI_REQUEST_MODEL, ATTR_GEN_AI_INPUT_MESSAGES, ATTR_GEN_AI_OUTPUT_MESSAGES, METRIC_GEN_AI_CLIENT_OPERATION_DURATION, METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK, METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, METRIC_GEN_AI_CLIENT_TOKEN_USAGE } from '@opentelemetry/semantic-conventions/incubating';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import OpenAI from 'openai';
import WebSocket from 'ws';
import { ATTR_KIND, ATTR_TRANSPORT, KIND, OUTCOME, RESPONSE, TRANSPORT } from '../src/contract.ts';
import { MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupSuite, type TestTelemetry } from './utils/telemetry.ts';

const TOKENS = 8;

describe('configuration and metrics', () => {
  const suite = setupSuite();
  const { telemetry } = suite;
  let client: OpenAI;
  before(() => {
    client = new OpenAI({ apiKey: 'test', baseURL: `${suite.server.httpURL}/v1`, maxRetries: 0 });
  });

  async function streamOnce() {
    const spansBefore = telemetry.responses().length;
    const stream = await client.responses.create({ model: MOCK_MODEL, input: 'secret prompt', stream: true });
    for await (const event of stream) void event;
    return eventually(() => telemetry.responses()[spansBefore]);
  }

  it('records no prompt or completion text and no token events by default', async () => {
    const span = await streamOnce();
    assert.equal(span.attributes[ATTR_GEN_AI_INPUT_MESSAGES], undefined);
    assert.equal(span.attributes[ATTR_GEN_AI_OUTPUT_MESSAGES], undefined);
    assert.equal(span.events.length, 0);
  });

  it('caps token offsets while keeping the chunk count exact', async () => {
    telemetry.instrumentation.setConfig({ maxTokenOffsets: 3 });
    const span = await streamOnce();
    assert.equal((span.attributes[RESPONSE.TOKEN_OFFSETS_US] as number[]).length, 3);
    assert.equal(span.attributes[RESPONSE.OUTPUT_CHUNKS], TOKENS);
    telemetry.instrumentation.setConfig({});
  });

  it('adds one span event per chunk and captures text when opted in', async () => {
    telemetry.instrumentation.setConfig({ tokenEvents: true, captureContent: true });
    const span = await streamOnce();
    assert.equal(span.events.length, TOKENS);
    assert.match(String(span.attributes[ATTR_GEN_AI_INPUT_MESSAGES]), /secret prompt/);
    const output = JSON.parse(String(span.attributes[ATTR_GEN_AI_OUTPUT_MESSAGES]));
    assert.equal(output[0].parts[0].content, suite.server.scheduleFor(suite.server.sent.length - 1).tokens.join(''));
    telemetry.instrumentation.setConfig({});
  });

  it('ends a response that never finishes with outcome timeout', async () => {
    telemetry.instrumentation.setConfig({ responseTimeoutMs: 50 });
    suite.server.onWebSocketMessage = () => true;
    const spansBefore = telemetry.responses().length;
    const ws = new WebSocket(`${suite.server.wsURL}/v1/responses`);
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.TIMEOUT);
    assert.equal(span.attributes[RESPONSE.TTFT_MS], undefined);
    ws.close();
    suite.server.onWebSocketMessage = undefined;
    telemetry.instrumentation.setConfig({});
  });

  it('records the GenAI client histograms, the per-chunk one unless turned off', async () => {
    const meter = meterOn(telemetry.instrumentation);
    await streamOnce();
    const count = await meter.collect();
    assert.equal(count(METRIC_GEN_AI_CLIENT_OPERATION_DURATION), 1);
    assert.equal(count(METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK), 1);
    assert.equal(count(METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK), TOKENS - 1);
    assert.equal(count(METRIC_GEN_AI_CLIENT_TOKEN_USAGE), 2, 'input and output');

    telemetry.instrumentation.setConfig({ timePerOutputChunkMetric: false });
    await streamOnce();
    const countOff = await meter.collect();
    assert.equal(countOff(METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK), 0);
    assert.equal(countOff(METRIC_GEN_AI_CLIENT_OPERATION_DURATION), 1);
    assert.equal(countOff(METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK), 1);
    telemetry.instrumentation.setConfig({});
    await meter.shutdown();
  });

  it('lets a sampler decide on the request attributes; a dropped response is still measured', async () => {
    const seen: Attributes[] = [];
    const dropAll: Sampler = {
      shouldSample(_context, _traceId, _name, _kind, attributes) {
        seen.push({ ...attributes });
        return { decision: SamplingDecision.NOT_RECORD };
      },
      toString: () => 'drop all',
    };
    const sampledExporter = new InMemorySpanExporter();
    telemetry.instrumentation.setTracerProvider(new BasicTracerProvider({ sampler: dropAll, spanProcessors: [new SimpleSpanProcessor(sampledExporter)] }));
    const meter = meterOn(telemetry.instrumentation);
    try {
      const stream = await client.responses.create({ model: MOCK_MODEL, input: 'hi', stream: true });
      for await (const event of stream) void event;
      const request = await eventually(() => seen.find((attributes) => attributes[ATTR_KIND] === KIND.RESPONSE));
      assert.equal(request[ATTR_GEN_AI_REQUEST_MODEL], MOCK_MODEL);
      assert.equal(request[ATTR_GEN_AI_PROVIDER_NAME], 'openai');
      assert.equal(request[ATTR_SERVER_ADDRESS], '127.0.0.1');
      assert.equal(request[ATTR_TRANSPORT], TRANSPORT.SSE);
      assert.deepEqual(sampledExporter.getFinishedSpans().filter((span) => span.attributes[ATTR_KIND] === KIND.RESPONSE), []);
      const count = await meter.collect();
      assert.equal(count(METRIC_GEN_AI_CLIENT_OPERATION_DURATION), 1);
      assert.equal(count(METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK), TOKENS - 1);
    } finally {
      telemetry.instrumentation.setTracerProvider(telemetry.provider);
      await meter.shutdown();
    }
  });
});

/** The metrics SDK behind `instrumentation`; `collect()` counts each histogram's recordings since the last. */
function meterOn(instrumentation: TestTelemetry['instrumentation']) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  instrumentation.setMeterProvider(meterProvider);
  return {
    async collect() {
      exporter.reset();
      await reader.forceFlush();
      const metrics = exporter.getMetrics().flatMap((m) => m.scopeMetrics.flatMap((s) => s.metrics)) as HistogramMetricData[];
      return (name: string) => metrics.find((m) => m.descriptor.name === name)?.dataPoints.reduce((n, p) => n + p.value.count, 0) ?? 0;
    },
    shutdown: () => meterProvider.shutdown(),
  };
}
