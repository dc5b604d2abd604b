/*
 * OTLP load: response spans emitted through the official OpenTelemetry SDK and OTLP
 * protobuf exporter, and request bodies replayed from what that exporter put on the wire.
 *
 * Encoding 512 spans costs milliseconds, which a load client on a 2-core machine cannot
 * afford per request without starving the collector it measures. So each distinct body is
 * captured once from the exporter, with sentinel times; a request is that body copied with
 * its ids and times overwritten in place (fixed-width fields: 16- and 8-byte ids, fixed64
 * nanoseconds), which costs little more than a memcpy.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode, type Attributes, type HrTime, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_API,
  ATTR_CONNECTION_ID,
  ATTR_KIND,
  ATTR_TRANSPORT,
  GEN_AI,
  KIND,
  PEER,
  RESPONSE,
} from '@streamscope/instrumentation/contract';
import type { NewResponseRow } from '../../db/schema';

/**
 * The span attributes our instrumentation sends for a response, as the span contract
 * names them: the inverse of the collector's translation, so a row survives the trip.
 */
export function responseAttributes(row: NewResponseRow): Attributes {
  const attributes: Record<string, Attributes[string] | null> = {
    [ATTR_KIND]: KIND.RESPONSE,
    [GEN_AI.OPERATION_NAME]: row.operation,
    [GEN_AI.PROVIDER_NAME]: row.provider,
    [GEN_AI.REQUEST_MODEL]: row.requestModel,
    [GEN_AI.RESPONSE_MODEL]: row.model,
    [GEN_AI.RESPONSE_ID]: row.responseId,
    [GEN_AI.USAGE_INPUT_TOKENS]: row.inputTokens,
    [GEN_AI.USAGE_OUTPUT_TOKENS]: row.outputTokens,
    [GEN_AI.RESPONSE_FINISH_REASONS]: [row.status === 'error' ? 'error' : 'stop'],
    [GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK]: row.ttftMs == null ? null : row.ttftMs / 1000,
    [ATTR_API]: row.api,
    [ATTR_TRANSPORT]: row.transport,
    [ATTR_CONNECTION_ID]: row.connectionId,
    [RESPONSE.CONNECTION_REUSED]: row.connectionReused,
    [RESPONSE.TTFB_MS]: row.ttfbMs,
    [RESPONSE.TTFT_MS]: row.ttftMs,
    [RESPONSE.DURATION_MS]: row.durationMs,
    [RESPONSE.OUTPUT_CHUNKS]: row.outputChunks,
    [RESPONSE.TOKENS_PER_SECOND]: row.tokensPerSecond,
    [RESPONSE.ITL_MEAN_MS]: row.itlMeanMs,
    [RESPONSE.ITL_P50_MS]: row.itlP50Ms,
    [RESPONSE.ITL_P99_MS]: row.itlP99Ms,
    [RESPONSE.ITL_MAX_MS]: row.itlMaxMs,
    [RESPONSE.TOKEN_OFFSETS_US]: row.tokenOffsetsUs,
    [RESPONSE.OUTCOME]: row.outcome,
    [RESPONSE.BYTES_SENT]: row.bytesSent,
    [RESPONSE.BYTES_RECEIVED]: row.bytesReceived,
    [ATTR_ERROR_TYPE]: row.errorType,
    [PEER.SERVER_ADDRESS]: row.provider === 'anthropic' ? 'api.anthropic.com' : 'api.openai.com',
  };
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value != null)) as Attributes;
}

/** Resource attributes of one application process sending `service`'s spans. */
export function resourceAttributes(service: string, host: number): Attributes {
  return {
    'service.name': service,
    'service.version': '1.42.0',
    'deployment.environment.name': 'production',
    'host.name': `pod-${host}`,
  };
}

export interface SdkPipeline {
  tracer: Tracer;
  provider: BasicTracerProvider;
}

/**
 * What an instrumented application runs: a tracer provider with a BatchSpanProcessor and
 * the official OTLP/HTTP protobuf exporter, exporting batches of `batchSize` spans.
 */
export function sdkPipeline(url: string, service: string, host: number, batchSize = 512): SdkPipeline {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resourceAttributes(service, host)),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }), {
      maxExportBatchSize: batchSize,
      maxQueueSize: batchSize * 16,
      scheduledDelayMillis: 50,
    })],
  });
  return { tracer: provider.getTracer('@streamscope/instrumentation', '0.1.0'), provider };
}

const hrTime = (ns: bigint): HrTime => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
const durationNs = (row: NewResponseRow) => BigInt(Math.round(row.durationMs * 1e6));

/** Ends a response span for `row` that started `startNs` (Unix ns); returns its ids. */
export function emitResponse(tracer: Tracer, row: NewResponseRow, startNs: bigint): { traceId: string; spanId: string } {
  const span = tracer.startSpan(`${row.operation ?? 'chat'} ${row.model ?? ''}`.trim(), {
    kind: SpanKind.CLIENT,
    startTime: hrTime(startNs),
    attributes: responseAttributes(row),
  });
  if (row.status === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: row.errorMessage ?? undefined });
  span.end(hrTime(startNs + durationNs(row)));
  return span.spanContext();
}

/** Sentinel start times, one per span: distinctive 8-byte patterns to find after export. */
const sentinelStartNs = (i: number) => 0x5a5a_0000_0000_0000n + BigInt(i) * 0x1_0000_0001n;

function fixed64(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return bytes;
}

/** Exports `rows` once through the official exporter to a local endpoint and returns the body. */
async function captureExport(rows: readonly NewResponseRow[], service: string, host: number) {
  const bodies: Buffer[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    bodies.push(Buffer.concat(chunks));
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { tracer, provider } = sdkPipeline(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, service, host, rows.length);
    const ids = rows.map((row, i) => emitResponse(tracer, row, sentinelStartNs(i)));
    await provider.forceFlush();
    await provider.shutdown();
    if (bodies.length !== 1) throw new Error(`expected one export of ${rows.length} spans, got ${bodies.length}`);
    return { body: bodies[0], ids };
  } finally {
    server.close();
  }
}

interface SpanSlot {
  traceId: number;
  spanId: number;
  start: number;
  end: number;
  durationNs: number;
}

const TWO_POW_32 = 2 ** 32;

/** Writes base + add (both as 32-bit halves of an unsigned 64-bit) as fixed64, without BigInt. */
function writeFixed64(body: Buffer, offset: number, baseHigh: number, baseLow: number, add: number): void {
  const low = baseLow + add;
  body.writeUInt32LE(low % TWO_POW_32, offset);
  body.writeUInt32LE(baseHigh + Math.floor(low / TWO_POW_32), offset + 4);
}

/** One export request of a service's spans, re-rendered with fresh ids and times per request. */
export class RequestTemplate {
  private constructor(
    private readonly bytes: Buffer,
    private readonly slots: readonly SpanSlot[],
  ) {}

  /** Captures the official exporter's body for `rows` (all sent as `service`). */
  static async capture(rows: readonly NewResponseRow[], service: string, host = 0): Promise<RequestTemplate> {
    const { body, ids } = await captureExport(rows, service, host);
    const slots = rows.map((row, i) => {
      const startNs = sentinelStartNs(i);
      const slot = {
        traceId: body.indexOf(Buffer.from(ids[i].traceId, 'hex')),
        spanId: body.indexOf(Buffer.from(ids[i].spanId, 'hex')),
        start: body.indexOf(fixed64(startNs)),
        end: body.indexOf(fixed64(startNs + durationNs(row))),
        durationNs: Number(durationNs(row)),
      };
      if (Object.values(slot).some((offset) => offset < 0)) throw new Error(`span ${i} was not found in the exported body`);
      return slot;
    });
    return new RequestTemplate(body, slots);
  }

  get spanCount(): number {
    return this.slots.length;
  }

  get byteLength(): number {
    return this.bytes.length;
  }

  /**
   * The body with ids unique to (run, request) — `run` tells apart processes and phases
   * writing to one database — and span i starting `i` µs after `startMs`.
   */
  render(run: number, request: number, startMs: number): Buffer {
    const body = Buffer.from(this.bytes);
    const startNs = BigInt(Math.floor(startMs)) * 1_000_000n;
    const high = Number(startNs >> 32n);
    const low = Number(startNs & 0xffff_ffffn);
    this.slots.forEach((slot, i) => {
      // trace id: run (4 bytes) · request (8) · span (4); span id: request (4) · run (2) · span (2).
      body.writeUInt32BE(run >>> 0, slot.traceId);
      body.writeUInt32BE(Math.floor(request / TWO_POW_32), slot.traceId + 4);
      body.writeUInt32BE(request >>> 0, slot.traceId + 8);
      body.writeUInt32BE(i + 1, slot.traceId + 12);
      body.writeUInt32BE(request >>> 0, slot.spanId);
      body.writeUInt16BE(run & 0xffff, slot.spanId + 4);
      body.writeUInt16BE(i + 1, slot.spanId + 6);
      writeFixed64(body, slot.start, high, low, i * 1000);
      writeFixed64(body, slot.end, high, low, i * 1000 + slot.durationNs);
    });
    return body;
  }
}
