/*
 * Emits spans through the real OpenTelemetry SDK and an official OTLP exporter, the way
 * an instrumented application would.
 */
import type { Attributes, HrTime, Link, SpanKind, SpanStatus } from '@opentelemetry/api';
import { OTLPTraceExporter as OTLPTraceExporterHttpJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPTraceExporterProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';

/** The two official exporters: protobuf and JSON over HTTP. */
export const EXPORTERS = {
  protobuf: OTLPTraceExporterProto,
  json: OTLPTraceExporterHttpJson,
} as const;
export type ExporterName = keyof typeof EXPORTERS;

export interface SpanSpec {
  name: string;
  attributes: Attributes;
  startTime: HrTime;
  endTime: HrTime;
  kind?: SpanKind;
  status?: SpanStatus;
  events?: { name: string; attributes?: Attributes; time: HrTime }[];
  links?: Link[];
}

export interface EmitOptions {
  url: string;
  exporter: ExporterName;
  resource?: Attributes;
  scope?: { name: string; version?: string };
  gzip?: boolean;
}

/** Records finished spans through the SDK, without exporting them. */
export function recordSpans(options: Pick<EmitOptions, 'resource' | 'scope'>, specs: SpanSpec[]): ReadableSpan[] {
  const recorder = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(options.resource ?? {}),
    spanProcessors: [new SimpleSpanProcessor(recorder)],
  });
  const tracer = provider.getTracer(options.scope?.name ?? 'streamscope-test', options.scope?.version);
  for (const spec of specs) {
    const span = tracer.startSpan(spec.name, { attributes: spec.attributes, startTime: spec.startTime, kind: spec.kind, links: spec.links });
    for (const event of spec.events ?? []) span.addEvent(event.name, event.attributes, event.time);
    if (spec.status) span.setStatus(spec.status);
    span.end(spec.endTime);
  }
  return recorder.getFinishedSpans();
}

/** One export call of the official exporter, resolving with what it made of the collector's answer. */
export async function exportSpans(options: Omit<EmitOptions, 'resource' | 'scope'>, spans: ReadableSpan[]): Promise<ExportResult> {
  const exporter = new EXPORTERS[options.exporter]({
    url: options.url,
    compression: options.gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
  });
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
  } finally {
    await exporter.shutdown();
  }
}

/** Sends the spans in one export that must succeed; resolves with their (hex) trace and span ids. */
export async function emitSpans(options: EmitOptions, specs: SpanSpec[]): Promise<{ traceId: string; spanId: string }[]> {
  const spans = recordSpans(options, specs);
  const result = await exportSpans(options, spans);
  if (result.code !== ExportResultCode.SUCCESS) throw new Error(`export failed: ${result.error?.message}`);
  return spans.map((span) => ({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId }));
}

/** [seconds, nanoseconds] `offsetMs` after `base`, keeping nanosecond precision. */
export function hrTimeAt(base: HrTime, offsetMs: number): HrTime {
  const nanos = BigInt(base[0]) * 1_000_000_000n + BigInt(base[1]) + BigInt(Math.round(offsetMs * 1e6));
  return [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)];
}

/** A recent time with a non-zero nanosecond part, so precision loss would show. */
export function recentHrTime(): HrTime {
  return [Math.floor(Date.now() / 1000) - 60, 123_456_789];
}
