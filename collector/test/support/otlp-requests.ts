/*
 * Hand-built OTLP requests for the cases an official exporter never produces (invalid
 * ids, NaN durations, resent bodies), in both encodings.
 */
import { randomBytes } from 'node:crypto';
import { ExportTraceServiceRequest, ExportTraceServiceResponse, RpcStatus } from '../../otlp/messages';

export interface JsonSpan {
  traceId?: string;
  spanId?: string;
  name?: string;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

export const newTraceId = () => randomBytes(16).toString('hex');
export const newSpanId = () => randomBytes(8).toString('hex');

/** A valid span 200 ms long that started a minute ago, overridable field by field. */
export function jsonSpan(overrides: JsonSpan = {}): Required<JsonSpan> {
  const start = BigInt(Date.now() - 60_000) * 1_000_000n;
  return {
    traceId: newTraceId(),
    spanId: newSpanId(),
    name: 'chat',
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 200_000_000n),
    attributes: [],
    ...overrides,
  };
}

/** An OTLP/JSON ExportTraceServiceRequest object: one resource, one scope. */
export function jsonRequest(service: string, spans: JsonSpan[]): object {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 'hand-built' }, spans }],
      },
    ],
  };
}

/** The same request as protobuf bytes (ids converted from hex, as the JSON mapping defines). */
export function protobufRequest(service: string, spans: JsonSpan[]): Buffer {
  const withBytes = spans.map((s) => ({
    ...s,
    traceId: s.traceId === undefined ? undefined : Buffer.from(s.traceId, 'hex'),
    spanId: s.spanId === undefined ? undefined : Buffer.from(s.spanId, 'hex'),
  }));
  const message = ExportTraceServiceRequest.fromObject(jsonRequest(service, withBytes as JsonSpan[]));
  return Buffer.from(ExportTraceServiceRequest.encode(message).finish());
}

export function attribute(key: string, value: string | number | boolean): { key: string; value: Record<string, unknown> } {
  if (typeof value === 'string') return { key, value: { stringValue: value } };
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  return { key, value: Number.isInteger(value) ? { intValue: value } : { doubleValue: value } };
}

export async function post(url: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  // DOM's BodyInit wants an ArrayBuffer-backed view; a Buffer's backing store is typed more loosely.
  return fetch(`${url}/v1/traces`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
}

export const PROTOBUF = { 'Content-Type': 'application/x-protobuf' };
export const JSON_TYPE = { 'Content-Type': 'application/json' };

/** Decodes a protobuf ExportTraceServiceResponse body into plain values. */
export function decodeExportResponse(body: ArrayBuffer): { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } } {
  return ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(new Uint8Array(body)), { longs: String });
}

export function decodeRpcStatus(body: ArrayBuffer): { code?: number; message?: string } {
  return RpcStatus.toObject(RpcStatus.decode(new Uint8Array(body)));
}
