/*
 * Spans sent by the official OpenTelemetry exporters to a running collector land as rows,
 * once, with every column filled from the span contract.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { SpanStatusCode } from '@opentelemetry/api';
import {
  API,
  ATTR_API,
  ATTR_CONNECTION_ID,
  ATTR_KIND,
  ATTR_TRANSPORT,
  CONNECTION,
  GEN_AI,
  KIND,
  OUTCOME,
  PEER,
  RESPONSE,
  TRANSPORT,
} from '@streamscope/instrumentation/contract';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { eq, sql } from 'drizzle-orm';
import { queryRows } from '../../db/rows';
import { connections, rollups1m } from '../../db/schema';
import { describeEachDatabase } from '../../test/support/databases';
import { DROPPED_ATTRIBUTES_KEY, MAX_ATTRIBUTES_BYTES, RESOURCE_KEY } from '../translate';
import { connectionRow, responseRow, rowCount, useCollector } from './support/collector';
import { attribute, jsonRequest, jsonSpan, post, PROTOBUF, JSON_TYPE, protobufRequest } from './support/otlp-requests';
import { EXPORTERS, emitSpans, hrTimeAt, recentHrTime, type ExporterName } from './support/spans';

const hrTimeMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;

describeEachDatabase('collector ingest', (database) => {
  const collector = useCollector(database);
  const tracesUrl = () => `${collector().url}/v1/traces`;

  for (const exporter of Object.keys(EXPORTERS) as ExporterName[]) {
    test(`a streamed response from the official ${exporter} exporter becomes a responses row, every column mapped`, async () => {
      const service = `chat-app-${exporter}`;
      const start = recentHrTime();
      const [{ traceId, spanId }] = await emitSpans(
        { url: tracesUrl(), exporter, resource: { [ATTR_SERVICE_NAME]: service, 'deployment.environment': 'test' } },
        [{
          name: 'chat gpt-test',
          startTime: start,
          endTime: hrTimeAt(start, 401),
          attributes: {
            [ATTR_KIND]: KIND.RESPONSE,
            [GEN_AI.OPERATION_NAME]: 'chat',
            [GEN_AI.PROVIDER_NAME]: 'openai',
            [GEN_AI.REQUEST_MODEL]: 'gpt-test',
            [GEN_AI.RESPONSE_MODEL]: 'gpt-test-2026',
            [GEN_AI.RESPONSE_ID]: 'resp_123',
            [GEN_AI.RESPONSE_FINISH_REASONS]: ['stop'],
            [GEN_AI.USAGE_INPUT_TOKENS]: 12,
            [GEN_AI.USAGE_OUTPUT_TOKENS]: 5,
            [ATTR_API]: API.OPENAI_RESPONSES,
            [ATTR_TRANSPORT]: TRANSPORT.WEBSOCKET,
            [ATTR_CONNECTION_ID]: 'conn-1',
            [RESPONSE.CONNECTION_REUSED]: true,
            [RESPONSE.REQUEST_SENT_TIME_MS]: hrTimeMs(start),
            [RESPONSE.TTFB_MS]: 80.5,
            [RESPONSE.TTFT_MS]: 150.25,
            [RESPONSE.DURATION_MS]: 400.75,
            [RESPONSE.OUTPUT_CHUNKS]: 5,
            [RESPONSE.TOKENS_PER_SECOND]: 19.9,
            [RESPONSE.ITL_MEAN_MS]: 62.625,
            [RESPONSE.ITL_P50_MS]: 62,
            [RESPONSE.ITL_P99_MS]: 70.5,
            [RESPONSE.ITL_MAX_MS]: 71,
            [RESPONSE.TOKEN_OFFSETS_US]: [150_250, 210_000, 275_000, 339_000, 400_750],
            [RESPONSE.OUTCOME]: OUTCOME.COMPLETED,
            [RESPONSE.BYTES_SENT]: 300,
            [RESPONSE.BYTES_RECEIVED]: 4096,
            'app.tenant': 'acme',
          },
        }],
      );

      const { ingestedAt, startTime, ...row } = await responseRow(database().store, spanId);
      assert.ok(ingestedAt instanceof Date);
      assert.ok(Math.abs(startTime.getTime() - hrTimeMs(start)) < 1);
      assert.deepEqual(row, {
        traceId,
        spanId,
        service,
        provider: 'openai',
        model: 'gpt-test-2026',
        requestModel: 'gpt-test',
        operation: 'chat',
        api: API.OPENAI_RESPONSES,
        transport: TRANSPORT.WEBSOCKET,
        connectionId: 'conn-1',
        connectionReused: true,
        responseId: 'resp_123',
        ttfbMs: 80.5,
        ttftMs: 150.25,
        durationMs: 400.75,
        inputTokens: 12,
        outputTokens: 5,
        outputChunks: 5,
        tokensPerSecond: 19.9,
        itlMeanMs: 62.625,
        itlP50Ms: 62,
        itlP99Ms: 70.5,
        itlMaxMs: 71,
        tokenOffsetsUs: [150_250, 210_000, 275_000, 339_000, 400_750],
        outcome: OUTCOME.COMPLETED,
        status: 'ok',
        errorType: null,
        errorMessage: null,
        bytesSent: 300,
        bytesReceived: 4096,
        attributes: {
          [GEN_AI.RESPONSE_FINISH_REASONS]: ['stop'],
          'app.tenant': 'acme',
          [RESOURCE_KEY]: { 'deployment.environment': 'test' },
        },
      });
    });
  }

  test('a connection span becomes a connections row, every column mapped', async () => {
    const start = recentHrTime();
    const [{ traceId, spanId }] = await emitSpans(
      { url: tracesUrl(), exporter: 'protobuf', resource: { [ATTR_SERVICE_NAME]: 'conn-app' } },
      [{
        name: 'connect api.openai.com',
        startTime: start,
        endTime: hrTimeAt(start, 30_000),
        status: { code: SpanStatusCode.ERROR },
        attributes: {
          [ATTR_KIND]: KIND.CONNECTION,
          [ATTR_CONNECTION_ID]: 'conn-9',
          [ATTR_TRANSPORT]: TRANSPORT.WEBSOCKET,
          [PEER.SERVER_ADDRESS]: 'api.openai.com',
          [PEER.SERVER_PORT]: 443,
          [CONNECTION.DNS_MS]: 3.5,
          [CONNECTION.TCP_MS]: 20.25,
          [CONNECTION.TLS_MS]: 41,
          [CONNECTION.UPGRADE_MS]: 60.5,
          [CONNECTION.CONNECT_MS]: 151.25,
          [CONNECTION.RESPONSES]: 7,
          [CONNECTION.BYTES_SENT]: 2048,
          [CONNECTION.BYTES_RECEIVED]: 65_536,
          [CONNECTION.FRAMES_SENT]: 7,
          [CONNECTION.FRAMES_RECEIVED]: 700,
          [CONNECTION.CLOSE_CODE]: 1006,
        },
      }],
    );
    const { ingestedAt, openedAt, closedAt, ...row } = await connectionRow(database().store, spanId);
    assert.ok(ingestedAt instanceof Date);
    assert.ok(Math.abs(openedAt.getTime() - hrTimeMs(start)) < 1);
    assert.ok(Math.abs(closedAt!.getTime() - (hrTimeMs(start) + 30_000)) < 1);
    assert.deepEqual(row, {
      traceId,
      spanId,
      connectionId: 'conn-9',
      service: 'conn-app',
      transport: TRANSPORT.WEBSOCKET,
      serverAddress: 'api.openai.com',
      serverPort: 443,
      dnsMs: 3.5,
      tcpMs: 20.25,
      tlsMs: 41,
      upgradeMs: 60.5,
      connectMs: 151.25,
      responses: 7,
      bytesSent: 2048,
      bytesReceived: 65_536,
      framesSent: 7,
      framesReceived: 700,
      closeCode: 1006,
      status: 'error',
      attributes: { [RESOURCE_KEY]: {} },
    });
  });

  test('a connection reported while open is stored open, then closed by its closing span', async () => {
    const start = recentHrTime();
    const send = (endOffsetMs: number, open: boolean, responses: number) =>
      emitSpans(
        { url: tracesUrl(), exporter: 'protobuf', resource: { [ATTR_SERVICE_NAME]: 'live-conn-app' } },
        [{
          name: 'connection api.openai.com',
          startTime: start,
          endTime: hrTimeAt(start, endOffsetMs),
          attributes: {
            [ATTR_KIND]: KIND.CONNECTION,
            [ATTR_CONNECTION_ID]: 'conn-live',
            [ATTR_TRANSPORT]: TRANSPORT.WEBSOCKET,
            [CONNECTION.CONNECT_MS]: 40,
            [CONNECTION.UPGRADE_MS]: 12,
            [CONNECTION.RESPONSES]: responses,
            [CONNECTION.OPEN]: open,
            ...(open ? {} : { [CONNECTION.CLOSE_CODE]: 1000 }),
          },
        }],
      );
    const rowsOfConnection = () => database().store.db.select().from(connections).where(eq(connections.connectionId, 'conn-live'));
    await send(30_000, true, 3);
    let rows = await rowsOfConnection();
    assert.deepEqual(rows.map((r) => [r.closedAt, r.responses]), [[null, 3]], 'stored open');
    assert.equal(rows[0].attributes[CONNECTION.OPEN], undefined, 'the flag is a column state, not an attribute');

    await send(90_000, false, 8);
    rows = await rowsOfConnection();
    assert.equal(rows.length, 1, 'the closing span replaced the report');
    assert.equal(rows[0].responses, 8);
    assert.equal(rows[0].closeCode, 1000);
    assert.ok(Math.abs(rows[0].closedAt!.getTime() - (hrTimeMs(start) + 90_000)) < 1);
  });

  test('a plain GenAI span (OpenLLMetry style, older attribute names) becomes a response row', async () => {
    const start = recentHrTime();
    const [{ spanId }] = await emitSpans(
      { url: tracesUrl(), exporter: 'protobuf', resource: { [ATTR_SERVICE_NAME]: 'llm-app' } },
      [{
        name: 'openai.chat',
        startTime: start,
        endTime: hrTimeAt(start, 1250),
        status: { code: SpanStatusCode.ERROR, message: 'rate limited' },
        attributes: {
          [GEN_AI.SYSTEM]: 'openai',
          [GEN_AI.REQUEST_MODEL]: 'gpt-4o',
          [GEN_AI.USAGE_PROMPT_TOKENS]: 30,
          [GEN_AI.USAGE_COMPLETION_TOKENS]: 40,
          [GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK]: 0.25,
          [ATTR_ERROR_TYPE]: 'RateLimitError',
          'llm.request.type': 'chat',
        },
      }],
    );
    const row = await responseRow(database().store, spanId);
    assert.equal(row.service, 'llm-app');
    assert.equal(row.provider, 'openai');
    assert.equal(row.model, 'gpt-4o');
    assert.equal(row.requestModel, 'gpt-4o');
    assert.equal(row.inputTokens, 30);
    assert.equal(row.outputTokens, 40);
    assert.equal(row.ttftMs, 250);
    assert.equal(row.durationMs, 1250);
    assert.equal(row.transport, null);
    assert.equal(row.tokenOffsetsUs, null);
    assert.equal(row.status, 'error');
    assert.equal(row.errorType, 'RateLimitError');
    assert.equal(row.errorMessage, 'rate limited');
    assert.deepEqual(row.attributes, { 'llm.request.type': 'chat', [RESOURCE_KEY]: {} });
  });

  test('spans that are neither responses nor connections are counted and not stored', async () => {
    const ignoredBefore = collector().stats.spansIgnored;
    const start = recentHrTime();
    await emitSpans({ url: tracesUrl(), exporter: 'protobuf', resource: { [ATTR_SERVICE_NAME]: 'web-app' } }, [
      { name: 'GET /', startTime: start, endTime: hrTimeAt(start, 5), attributes: { [ATTR_HTTP_REQUEST_METHOD]: 'GET' } },
    ]);
    assert.equal(await rowCount(database().store, 'web-app'), 0);
    assert.equal(collector().stats.spansIgnored, ignoredBefore + 1);
  });

  test('the same request sent twice (an exporter retry) is stored and rolled up once', async () => {
    const service = 'retry-app';
    const body = protobufRequest(service, [
      jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE), attribute(GEN_AI.REQUEST_MODEL, 'm'), attribute(RESPONSE.TTFT_MS, 20)] }),
    ]);
    for (let i = 0; i < 2; i++) assert.equal((await post(collector().url, body, PROTOBUF)).status, 200);
    assert.equal(await rowCount(database().store, service), 1);
    const rollups = await database().store.db.select().from(rollups1m).where(eq(rollups1m.service, service));
    assert.deepEqual(rollups.map((r) => [r.responses, r.withOutput]), [[1, 1]]);
  });

  test('gzip bodies are accepted, from the official exporter and hand-built', async () => {
    const start = recentHrTime();
    const [{ spanId }] = await emitSpans(
      { url: tracesUrl(), exporter: 'protobuf', gzip: true, resource: { [ATTR_SERVICE_NAME]: 'gzip-app' } },
      [{ name: 'chat', startTime: start, endTime: hrTimeAt(start, 10), attributes: { [GEN_AI.OPERATION_NAME]: 'chat' } }],
    );
    assert.ok(await responseRow(database().store, spanId));

    const span = jsonSpan({ attributes: [attribute(GEN_AI.OPERATION_NAME, 'chat')] });
    const body = gzipSync(JSON.stringify(jsonRequest('gzip-json-app', [span])));
    const res = await post(collector().url, body, { ...JSON_TYPE, 'Content-Encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    assert.ok(await responseRow(database().store, span.spanId));
  });

  test('a thousand spans through the BatchSpanProcessor, in concurrent exports, are all stored once', async () => {
    const service = 'batch-app';
    const exporter = new EXPORTERS.protobuf({ url: tracesUrl(), concurrencyLimit: 40 });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: service }),
      spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 50, maxQueueSize: 2000, scheduledDelayMillis: 10 })],
    });
    const tracer = provider.getTracer('batch-test');
    for (let i = 0; i < 1000; i++) {
      tracer.startSpan('chat', { attributes: { [ATTR_KIND]: KIND.RESPONSE, [GEN_AI.REQUEST_MODEL]: `model-${i % 3}`, [RESPONSE.TTFT_MS]: i } }).end();
    }
    await provider.forceFlush();
    await provider.shutdown();
    assert.equal(await rowCount(database().store, service), 1000);
    const [{ responses }] = await queryRows<{ responses: number }>(database().store.db,
      sql`select sum(responses) as responses from rollups_1m where service = ${service}`);
    assert.equal(Number(responses), 1000);
  });

  test('an export with no spans is a full success', async () => {
    const res = await post(collector().url, JSON.stringify({ resourceSpans: [] }), JSON_TYPE);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  });

  test('unmapped attributes are kept up to a size bound, and the row says how many were left out', async () => {
    const attributes = Array.from({ length: 200 }, (_, i) => attribute(`app.field_${i}`, 'x'.repeat(100)));
    const span = jsonSpan({ attributes: [attribute(GEN_AI.OPERATION_NAME, 'chat'), ...attributes] });
    assert.equal((await post(collector().url, JSON.stringify(jsonRequest('bounded-app', [span])), JSON_TYPE)).status, 200);
    const row = await responseRow(database().store, span.spanId);
    const stored = row.attributes as Record<string, unknown>;
    const [{ size }] = await queryRows<{ size: number }>(database().store.db,
      sql`select octet_length(attributes::text) as size from responses where span_id = ${span.spanId}`);
    assert.ok(Number(size) < MAX_ATTRIBUTES_BYTES * 2, `attributes took ${size} bytes`);
    const kept = Object.keys(stored).filter((k) => k.startsWith('app.field_')).length;
    assert.ok(kept > 0 && kept < 200);
    assert.equal(stored[DROPPED_ATTRIBUTES_KEY], 200 - kept);
  });
});
