/*
 * OTLP trace request body → normalised spans.
 *
 * Both encodings go through the same message types: protobuf bytes are decoded by
 * protobufjs, JSON is parsed by protobufjs' ProtoJSON reader after the one deviation OTLP
 * makes from the proto3 JSON mapping (trace and span ids are hex, not base64) is undone.
 * A body that cannot be parsed at all is a RequestError; a span that parses but cannot be
 * stored (bad ids, absurd timestamps, attributes nested too deep) is rejected alone.
 */
import protojson from 'protobufjs/ext/protojson.js';
import { RequestError } from '../errors';
import { ExportTraceServiceRequest } from './messages';
import { readTraceRequest } from './read-traces';
import { attributesOrError, normaliseSpans, scopeOf, type DecodedTraces, type PbKeyValue, type ResourceGroup, type SpanFields } from './spans';

export type { AttributeValue, Attributes, DecodedSpan, DecodedTraces } from './spans';
export { emptyAttributes, MAX_ATTRIBUTE_DEPTH } from './spans';

export type OtlpEncoding = 'protobuf' | 'json';

/**
 * How a protobuf body is decoded: read straight off the wire (read-traces.ts), or into
 * protobufjs message objects first — the reference the reader is tested against, and the
 * path JSON takes.
 */
export type ProtobufDecoder = 'reader' | 'reflection';

// The subset of the decoded message shapes the reflection path reads.
interface PbRequest {
  resourceSpans: {
    resource?: { attributes: PbKeyValue[] } | null;
    scopeSpans: { scope?: { name: string; version: string } | null; spans: (SpanFields & { attributes: PbKeyValue[] })[] }[];
  }[];
}

export function decodeTraceRequest(body: Uint8Array, encoding: OtlpEncoding, nowMs = Date.now(), decoder: ProtobufDecoder = 'reader'): DecodedTraces {
  if (encoding === 'protobuf' && decoder === 'reader') return normaliseSpans(readProtobuf(body), nowMs);
  return normaliseSpans(resourceGroups(encoding === 'protobuf' ? parseProtobuf(body) : parseJson(body)), nowMs);
}

function readProtobuf(body: Uint8Array): ResourceGroup[] {
  try {
    return readTraceRequest(body);
  } catch (error) {
    throw malformedProtobuf(error);
  }
}

function resourceGroups(request: PbRequest): ResourceGroup[] {
  return request.resourceSpans.map((resourceSpans) => ({
    resource: attributesOrError(resourceSpans.resource?.attributes ?? [], 'resource: '),
    scopes: resourceSpans.scopeSpans.map((scopeSpans) => ({
      scope: scopeOf(scopeSpans.scope?.name ?? '', scopeSpans.scope?.version ?? ''),
      spans: scopeSpans.spans.map((span) => ({ fields: span, attributes: attributesOrError(span.attributes) })),
    })),
  }));
}

function malformedProtobuf(error: unknown): RequestError {
  return new RequestError(400, `malformed protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
}

function parseProtobuf(body: Uint8Array): PbRequest {
  try {
    return ExportTraceServiceRequest.decode(body) as unknown as PbRequest;
  } catch (error) {
    throw malformedProtobuf(error);
  }
}

/** Invalid UTF-8 is refused, as the protobuf reader refuses it, rather than silently replaced. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(body: Uint8Array): PbRequest {
  let json: unknown;
  try {
    json = JSON.parse(STRICT_UTF8.decode(body));
  } catch (error) {
    throw new RequestError(400, `malformed JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RequestError(400, 'malformed JSON ExportTraceServiceRequest: the body must be a JSON object');
  }
  hexIdsToBase64(json);
  try {
    // Unknown fields are ignored, as OTLP asks of receivers so newer senders keep working.
    // fromJson yields plain objects without the defaults and oneof accessors of decoded
    // messages; a round trip through the wire format gives the one shape the reader below
    // expects. JSON is the rare encoding, so its extra cost buys a single code path.
    const plain = protojson.fromJson(ExportTraceServiceRequest, json, { ignoreUnknownFields: true });
    return ExportTraceServiceRequest.decode(ExportTraceServiceRequest.encode(plain).finish()) as unknown as PbRequest;
  } catch (error) {
    throw new RequestError(400, `malformed JSON ExportTraceServiceRequest: ${(error as Error).message}`);
  }
}

const ID_FIELDS = ['traceId', 'spanId', 'parentSpanId'] as const;
const HEX = /^(?:[0-9a-f]{2})*$/i;

/**
 * OTLP/JSON writes ids as hex where proto3 JSON expects base64. Rewrites them in place;
 * a value that is not hex becomes empty, so the span fails id validation by name.
 */
function hexIdsToBase64(json: object): void {
  const convert = (holder: unknown) => {
    if (typeof holder !== 'object' || holder === null) return;
    const record = holder as Record<string, unknown>;
    for (const field of ID_FIELDS) {
      const value = record[field];
      if (typeof value === 'string') record[field] = HEX.test(value) ? Buffer.from(value, 'hex').toString('base64') : '';
    }
  };
  for (const resourceSpans of arrayAt(json, 'resourceSpans')) {
    for (const scopeSpans of arrayAt(resourceSpans, 'scopeSpans')) {
      for (const span of arrayAt(scopeSpans, 'spans')) {
        convert(span);
        for (const link of arrayAt(span, 'links')) convert(link);
      }
    }
  }
}

function arrayAt(holder: unknown, key: string): unknown[] {
  const value = typeof holder === 'object' && holder !== null ? (holder as Record<string, unknown>)[key] : undefined;
  return Array.isArray(value) ? value : [];
}
