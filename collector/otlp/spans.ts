/*
 * Normalised spans: what both trace readers (read-traces.ts off the protobuf wire, and the
 * protobufjs message objects decode.ts gets from JSON or the reflection decoder) produce,
 * and the validation they share. A span that parses but cannot be stored (bad ids, absurd
 * timestamps, attributes nested too deep) is rejected alone, by its place in the request.
 */
import { InvalidSpanError, type SpanRejection } from '../errors';
import { StatusCode } from './messages';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

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
export type Int64 = number | Int64Bits;
export interface PbKeyValue { key: string; value?: PbAnyValue | null }
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

/** A span's own fields, as the wire carries them. */
export interface SpanFields {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: Int64;
  endTimeUnixNano: Int64;
  status?: { code: number; message: string } | null;
}

/** A span read but not yet validated: its attributes already converted, or the reason they could not be. */
export interface ReadSpan {
  fields: SpanFields;
  attributes: Attributes | InvalidSpanError;
}

export interface Scope { name: string; version: string }

/** The spans of one ScopeSpans message. */
export interface ScopeGroup {
  scope: Scope;
  spans: ReadSpan[];
}

/** One ResourceSpans message, read: its resource attributes (or why they cannot be stored) and its spans. */
export interface ResourceGroup {
  resource: Attributes | InvalidSpanError;
  scopes: ScopeGroup[];
}

/**
 * Validates every span of a request, in request order. A resource that failed validation
 * fails each of its spans, each reported in place.
 */
export function normaliseSpans(resources: ResourceGroup[], nowMs: number): DecodedTraces {
  const out: DecodedTraces = { spans: [], rejected: [] };
  resources.forEach(({ resource, scopes }, r) => {
    scopes.forEach(({ scope, spans }, s) => {
      spans.forEach((span, i) => {
        try {
          if (resource instanceof InvalidSpanError) throw resource;
          out.spans.push(normaliseSpan(span, resource, scope, nowMs));
        } catch (error) {
          out.rejected.push({ span: `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`, reason: asInvalidSpan(error).message });
        }
      });
    });
  });
  return out;
}

export function scopeOf(name: string, version: string): Scope {
  return { name: cleanText(name), version: cleanText(version) };
}

/** Rethrows anything that is not a span-level failure: those are bugs, not bad input. */
export function asInvalidSpan(error: unknown, prefix = ''): InvalidSpanError {
  if (!(error instanceof InvalidSpanError)) throw error;
  return prefix ? new InvalidSpanError(prefix + error.message) : error;
}

function normaliseSpan({ fields: span, attributes }: ReadSpan, resource: Attributes, scope: Scope, nowMs: number): DecodedSpan {
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
  if (attributes instanceof InvalidSpanError) throw attributes;
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
    attributes,
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

/** Converted attributes, or (the first) reason they cannot be stored, `prefix`ed. */
export function attributesOrError(keyValues: PbKeyValue[], prefix = ''): Attributes | InvalidSpanError {
  try {
    return toAttributes(keyValues);
  } catch (error) {
    return asInvalidSpan(error, prefix);
  }
}

function toAttributes(keyValues: PbKeyValue[], depth = 0): Attributes {
  const attributes = emptyAttributes();
  for (const { key, value } of keyValues) attributes[cleanText(key)] = toValue(value, depth, key);
  return attributes;
}

/** One attribute value of a decoded message, `depth` levels down; throws InvalidSpanError when nested too deep. */
export function toValue(value: PbAnyValue | null | undefined, depth: number, key: string): AttributeValue {
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
      return bytesToBase64(value.bytesValue);
    case 'arrayValue':
      return (value.arrayValue?.values ?? []).map((v) => toValue(v, depth + 1, key));
    case 'kvlistValue':
      return toAttributes(value.kvlistValue?.values ?? [], depth + 1);
    default:
      return null;
  }
}

export const bytesToBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

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
export function int64ToNumber(value: Int64): number | string {
  if (typeof value === 'number') return value;
  const n = (value.unsigned ? value.high >>> 0 : value.high) * TWO_POW_32 + (value.low >>> 0);
  return Number.isSafeInteger(n) ? n : int64ToBigInt(value).toString();
}

/**
 * Postgres text and jsonb cannot hold NUL, and one NUL would fail the whole batch's
 * transaction. (Invalid UTF-8 and unpaired surrogates never get this far: the protobuf
 * and ProtoJSON readers reject them, and the request gets a 400.)
 */
export function cleanText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}
