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
import { InvalidSpanError, RequestError, type SpanRejection } from '../errors';
import { ExportTraceServiceRequest, StatusCode } from './messages';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export type OtlpEncoding = 'protobuf' | 'json';

export interface DecodedSpan {
  /** Lowercase hex, 32 characters. */
  traceId: string;
  /** Lowercase hex, 16 characters. */
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** SpanKind as the .proto numbers it. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  /** Span start, Unix epoch milliseconds (sub-millisecond precision kept as a fraction). */
  startTimeMs: number;
  /** End minus start, milliseconds. */
  durationMs: number;
  attributes: Attributes;
  resource: Attributes;
  scope: { name: string; version: string };
  status: { error: boolean; message: string };
}

export interface DecodedTraces {
  spans: DecodedSpan[];
  rejected: SpanRejection[];
}

/** Beyond this, nesting is an attack or a bug, never telemetry worth a row. */
export const MAX_ATTRIBUTE_DEPTH = 8;

const NS_PER_MS = 1_000_000n;
/** Spans from before this are clock errors: OTLP did not exist. */
const EARLIEST_VALID_MS = Date.UTC(2000, 0, 1);
/** Clients' clocks drift; a day ahead is drift, more is garbage. */
const MAX_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

// The subset of the decoded message shapes this module reads.
/** protobufjs hands 64-bit integers over as their two 32-bit halves (a Long, or a plain object without long.js). */
interface Int64Bits { low: number; high: number; unsigned: boolean }
type Int64 = number | Int64Bits;
interface PbKeyValue { key: string; value?: PbAnyValue | null }
interface PbAnyValue {
  stringValue: string;
  boolValue: boolean;
  intValue: Int64;
  doubleValue: number;
  arrayValue?: { values: PbAnyValue[] } | null;
  kvlistValue?: { values: PbKeyValue[] } | null;
  bytesValue: Uint8Array;
}
/** In the order they are tried; the decoded message owns exactly the one that was sent (see messages.ts). */
const ANY_VALUE_MEMBERS = ['stringValue', 'intValue', 'doubleValue', 'boolValue', 'arrayValue', 'kvlistValue', 'bytesValue'] as const;
interface PbSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: Int64;
  endTimeUnixNano: Int64;
  attributes: PbKeyValue[];
  status?: { code: number; message: string } | null;
}
interface PbRequest {
  resourceSpans: {
    resource?: { attributes: PbKeyValue[] } | null;
    scopeSpans: { scope?: { name: string; version: string } | null; spans: PbSpan[] }[];
  }[];
}

export function decodeTraceRequest(body: Uint8Array, encoding: OtlpEncoding, nowMs = Date.now()): DecodedTraces {
  const request = encoding === 'protobuf' ? parseProtobuf(body) : parseJson(body);
  const spans: DecodedSpan[] = [];
  const rejected: SpanRejection[] = [];
  request.resourceSpans.forEach((resourceSpans, r) => {
    // A resource that fails validation fails each of its spans, each reported in place.
    let resource: Attributes | InvalidSpanError;
    try {
      resource = toAttributes(resourceSpans.resource?.attributes ?? []);
    } catch (error) {
      resource = asInvalidSpan(error, 'resource: ');
    }
    resourceSpans.scopeSpans.forEach((scopeSpans, s) => {
      const scope = { name: cleanText(scopeSpans.scope?.name ?? ''), version: cleanText(scopeSpans.scope?.version ?? '') };
      scopeSpans.spans.forEach((span, i) => {
        try {
          if (resource instanceof InvalidSpanError) throw resource;
          spans.push(normaliseSpan(span, resource, scope, nowMs));
        } catch (error) {
          rejected.push({ span: `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`, reason: asInvalidSpan(error).message });
        }
      });
    });
  });
  return { spans, rejected };
}

/** Rethrows anything that is not a span-level failure: those are bugs, not bad input. */
function asInvalidSpan(error: unknown, prefix = ''): InvalidSpanError {
  if (!(error instanceof InvalidSpanError)) throw error;
  return prefix ? new InvalidSpanError(prefix + error.message) : error;
}

function parseProtobuf(body: Uint8Array): PbRequest {
  try {
    return ExportTraceServiceRequest.decode(body) as unknown as PbRequest;
  } catch (error) {
    throw new RequestError(400, `malformed protobuf ExportTraceServiceRequest: ${(error as Error).message}`);
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

function normaliseSpan(span: PbSpan, resource: Attributes, scope: DecodedSpan['scope'], nowMs: number): DecodedSpan {
  const traceId = validId(span.traceId, 16, 'trace_id');
  const spanId = validId(span.spanId, 8, 'span_id');
  const parentSpanId = span.parentSpanId.length === 0 ? null : validId(span.parentSpanId, 8, 'parent_span_id');
  const startTimeUnixNano = int64ToBigInt(span.startTimeUnixNano);
  const endTimeUnixNano = int64ToBigInt(span.endTimeUnixNano);
  const startTimeMs = validTimeMs(startTimeUnixNano, 'start_time_unix_nano', nowMs);
  validTimeMs(endTimeUnixNano, 'end_time_unix_nano', nowMs);
  if (endTimeUnixNano < startTimeUnixNano) {
    throw new InvalidSpanError(`end_time_unix_nano ${endTimeUnixNano} is before start_time_unix_nano ${startTimeUnixNano}`);
  }
  return {
    traceId,
    spanId,
    parentSpanId,
    name: cleanText(span.name),
    kind: span.kind,
    startTimeUnixNano,
    endTimeUnixNano,
    startTimeMs,
    durationMs: nanosToMs(endTimeUnixNano - startTimeUnixNano),
    attributes: toAttributes(span.attributes),
    resource,
    scope,
    status: { error: span.status?.code === StatusCode.STATUS_CODE_ERROR, message: cleanText(span.status?.message ?? '') },
  };
}

function validId(bytes: Uint8Array, length: number, field: string): string {
  if (bytes.length !== length || bytes.every((b) => b === 0)) {
    throw new InvalidSpanError(
      `${field} must be ${length} bytes (${length * 2} hex characters in JSON), not all zero; got ${bytes.length} bytes`,
    );
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function validTimeMs(nanos: bigint, field: string, nowMs: number): number {
  const ms = nanosToMs(nanos);
  if (ms < EARLIEST_VALID_MS || ms > nowMs + MAX_CLOCK_SKEW_MS) {
    throw new InvalidSpanError(`${field} ${nanos} is not a plausible time (${nanos === 0n ? 'unset' : new Date(ms).toISOString()})`);
  }
  return ms;
}

/** Exact to the nanosecond as far as a double allows: whole milliseconds plus the fraction. */
function nanosToMs(nanos: bigint): number {
  return Number(nanos / NS_PER_MS) + Number(nanos % NS_PER_MS) / 1e6;
}

/**
 * Attribute maps have no prototype: keys come from the sender, and a key "__proto__" must
 * be an attribute like any other, not a way to replace the object's prototype.
 */
export function emptyAttributes(): Attributes {
  return Object.create(null) as Attributes;
}

function toAttributes(keyValues: PbKeyValue[], depth = 0): Attributes {
  const attributes = emptyAttributes();
  for (const { key, value } of keyValues) attributes[cleanText(key)] = toValue(value, depth, key);
  return attributes;
}

function toValue(value: PbAnyValue | null | undefined, depth: number, key: string): AttributeValue {
  if (depth > MAX_ATTRIBUTE_DEPTH) throw new InvalidSpanError(`attribute ${cleanText(key)} is nested deeper than ${MAX_ATTRIBUTE_DEPTH} levels`);
  if (!value) return null;
  switch (memberOf(value)) {
    case 'stringValue':
      return cleanText(value.stringValue);
    case 'boolValue':
      return value.boolValue;
    case 'intValue':
      return int64ToNumber(value.intValue);
    case 'doubleValue':
      return value.doubleValue;
    case 'bytesValue':
      return Buffer.from(value.bytesValue).toString('base64');
    case 'arrayValue':
      return (value.arrayValue?.values ?? []).map((v) => toValue(v, depth + 1, key));
    case 'kvlistValue':
      return toAttributes(value.kvlistValue?.values ?? [], depth + 1);
    default:
      return null;
  }
}

const TWO_POW_32 = 2 ** 32;

// Straight from the halves: Long's own toString() divides by powers of ten and was the
// single largest cost of decoding a batch of token-offset arrays.
function int64ToBigInt(value: Int64): bigint {
  if (typeof value === 'number') return BigInt(value);
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return value.unsigned ? bits : BigInt.asIntN(64, bits);
}

function memberOf(value: PbAnyValue): (typeof ANY_VALUE_MEMBERS)[number] | undefined {
  for (const member of ANY_VALUE_MEMBERS) if (Object.hasOwn(value, member)) return member;
  return undefined;
}

/** A number when it is exact as one; otherwise the decimal string, so nothing is silently rounded. */
function int64ToNumber(value: Int64): number | string {
  if (typeof value === 'number') return value;
  const n = (value.unsigned ? value.high >>> 0 : value.high) * TWO_POW_32 + (value.low >>> 0);
  return Number.isSafeInteger(n) ? n : int64ToBigInt(value).toString();
}

/**
 * Postgres text and jsonb cannot hold NUL, and one NUL would fail the whole batch's
 * transaction. (Invalid UTF-8 and unpaired surrogates never get this far: the protobuf
 * and ProtoJSON readers reject them, and the request gets a 400.)
 */
function cleanText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
