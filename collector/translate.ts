/*
 * Normalised spans → rows. A span becomes a `responses` row when it says it is one
 * (streamscope.kind=response) or when it carries GenAI semantic-convention attributes (so
 * spans from OpenLLMetry, OpenLIT and the like count, with whatever timings they have); a
 * `connections` row when streamscope.kind=connection; nothing otherwise.
 *
 * A mapped attribute whose value cannot fill its column (a NaN or negative duration, a
 * fractional token count) rejects the span: storing it would poison percentiles, and
 * dropping the value silently would hide the sender's bug. Everything not mapped to a
 * column is kept, size-bounded, in the row's `attributes` — except prompt and completion
 * text, which other instrumentations record by default and Streamscope does not keep.
 */
import {
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
} from '@streamscope/instrumentation/contract';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { ConnectionReport, SpanBatch } from '../db/ingest';
import type { NewResponseRow } from '../db/schema';
import { InvalidSpanError, type SpanRejection } from './errors';
import { isContentAttribute, OPENINFERENCE, OPENLIT } from './peer-attributes';
import { emptyAttributes, type AttributeValue, type Attributes, type DecodedSpan } from './otlp/decode';

export interface Translation extends SpanBatch {
  rejected: SpanRejection[];
  /** Spans that were neither responses nor connections (HTTP server spans and the like). */
  ignored: number;
}

/** What the OTel SDKs report when the application names no service. */
export const UNKNOWN_SERVICE = 'unknown_service';
/** Key in a row's attributes counting the attributes left out to respect the size bounds. */
export const DROPPED_ATTRIBUTES_KEY = 'streamscope.collector.dropped_attributes';
/** Key in a row's attributes holding the resource attributes. */
export const RESOURCE_KEY = 'resource';

/** Serialised size budgets (JSON characters) of a row's unmapped span attributes and of its resource attributes. */
export const MAX_ATTRIBUTES_BYTES = 8192;
const MAX_RESOURCE_BYTES = 4096;
/** Longer strings are cut: a prompt that slipped into an attribute is not worth a row's budget. */
const MAX_ATTRIBUTE_STRING_LENGTH = 1024;
/** The instrumentation caps offsets itself; this bounds what a foreign sender can make one row hold. */
export const MAX_TOKEN_OFFSETS = 65_536;

const INT4_MAX = 2_147_483_647;
const MS_PER_SECOND = 1000;

/** A response whose stream ended this way failed from the user's point of view. */
const ERROR_OUTCOMES = new Set<string>([OUTCOME.FAILED, OUTCOME.CONNECTION_LOST, OUTCOME.TIMEOUT]);

/** Any one of these marks a span from a GenAI instrumentation as a model response. */
const GEN_AI_MARKERS = [GEN_AI.OPERATION_NAME, GEN_AI.REQUEST_MODEL, GEN_AI.PROVIDER_NAME, GEN_AI.SYSTEM];

export function translateSpans(spans: readonly DecodedSpan[]): Translation {
  const translation: Translation = { responses: [], connections: [], rejected: [], ignored: 0 };
  for (const span of spans) {
    try {
      const kind = span.attributes[ATTR_KIND];
      if (kind === KIND.CONNECTION) translation.connections.push(toConnectionRow(span));
      else if (isModelCall(span.attributes, kind)) {
        translation.responses.push(toResponseRow(span));
      } else translation.ignored += 1;
    } catch (error) {
      if (!(error instanceof InvalidSpanError)) throw error;
      translation.rejected.push({ span: `${span.traceId}/${span.spanId}`, reason: error.message });
    }
  }
  return translation;
}

function isModelCall(attributes: Attributes, kind: AttributeValue | undefined): boolean {
  return kind === KIND.RESPONSE
    || GEN_AI_MARKERS.some((key) => key in attributes)
    || attributes[OPENINFERENCE.SPAN_KIND] === OPENINFERENCE.KIND_LLM;
}

function toResponseRow(span: DecodedSpan): NewResponseRow {
  const a = new MappedAttributes(span.attributes);
  a.consume(ATTR_KIND);
  // Equal to the span start by contract; the span's nanosecond start is the precise copy.
  a.consume(RESPONSE.REQUEST_SENT_TIME_MS);
  const requestModel = a.text(GEN_AI.REQUEST_MODEL) ?? a.text(OPENINFERENCE.MODEL_NAME);
  const outcome = a.text(RESPONSE.OUTCOME);
  const error = span.status.error || (outcome !== null && ERROR_OUTCOMES.has(outcome));
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    service: serviceOf(span),
    provider: a.text(GEN_AI.PROVIDER_NAME) ?? a.text(GEN_AI.SYSTEM) ?? a.text(OPENINFERENCE.PROVIDER) ?? a.text(OPENINFERENCE.SYSTEM),
    model: a.text(GEN_AI.RESPONSE_MODEL) ?? requestModel,
    requestModel,
    operation: a.text(GEN_AI.OPERATION_NAME),
    api: a.text(ATTR_API),
    transport: a.text(ATTR_TRANSPORT),
    connectionId: a.text(ATTR_CONNECTION_ID),
    connectionReused: a.flag(RESPONSE.CONNECTION_REUSED),
    responseId: a.text(GEN_AI.RESPONSE_ID),
    startTime: new Date(span.startTimeMs),
    ttfbMs: a.measure(RESPONSE.TTFB_MS),
    ttftMs: a.measure(RESPONSE.TTFT_MS)
      ?? secondsToMs(a.measure(GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK))
      ?? secondsToMs(a.measure(OPENLIT.TIME_TO_FIRST_TOKEN_S)),
    durationMs: a.measure(RESPONSE.DURATION_MS) ?? span.durationMs,
    inputTokens: a.count(GEN_AI.USAGE_INPUT_TOKENS) ?? a.count(GEN_AI.USAGE_PROMPT_TOKENS)
      ?? a.count(OPENINFERENCE.PROMPT_TOKENS),
    outputTokens: a.count(GEN_AI.USAGE_OUTPUT_TOKENS) ?? a.count(GEN_AI.USAGE_COMPLETION_TOKENS)
      ?? a.count(OPENINFERENCE.COMPLETION_TOKENS),
    outputChunks: a.count(RESPONSE.OUTPUT_CHUNKS),
    tokensPerSecond: a.measure(RESPONSE.TOKENS_PER_SECOND),
    itlMeanMs: a.measure(RESPONSE.ITL_MEAN_MS) ?? secondsToMs(a.measure(OPENLIT.TIME_PER_OUTPUT_TOKEN_S)),
    itlP50Ms: a.measure(RESPONSE.ITL_P50_MS),
    itlP99Ms: a.measure(RESPONSE.ITL_P99_MS),
    itlMaxMs: a.measure(RESPONSE.ITL_MAX_MS),
    tokenOffsetsUs: a.offsets(RESPONSE.TOKEN_OFFSETS_US),
    outcome,
    status: error ? 'error' : 'ok',
    errorType: a.text(ATTR_ERROR_TYPE),
    errorMessage: error && span.status.message ? span.status.message : null,
    bytesSent: a.count(RESPONSE.BYTES_SENT, Number.MAX_SAFE_INTEGER),
    bytesReceived: a.count(RESPONSE.BYTES_RECEIVED, Number.MAX_SAFE_INTEGER),
    attributes: rowAttributes(a, span),
  };
}

function toConnectionRow(span: DecodedSpan): ConnectionReport {
  const a = new MappedAttributes(span.attributes);
  a.consume(ATTR_KIND);
  // true: a report of a connection still open; false: the closing span of one that sent such reports.
  const open = a.flag(CONNECTION.OPEN);
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    // The span is the connection when the sender gave it no id of its own.
    connectionId: a.text(ATTR_CONNECTION_ID) ?? span.spanId,
    service: serviceOf(span),
    transport: a.text(ATTR_TRANSPORT),
    serverAddress: a.text(PEER.SERVER_ADDRESS),
    serverPort: a.count(PEER.SERVER_PORT),
    openedAt: new Date(span.startTimeMs),
    closedAt: open ? null : new Date(span.startTimeMs + span.durationMs),
    dnsMs: a.measure(CONNECTION.DNS_MS),
    tcpMs: a.measure(CONNECTION.TCP_MS),
    tlsMs: a.measure(CONNECTION.TLS_MS),
    upgradeMs: a.measure(CONNECTION.UPGRADE_MS),
    connectMs: a.measure(CONNECTION.CONNECT_MS),
    responses: a.count(CONNECTION.RESPONSES),
    bytesSent: a.count(CONNECTION.BYTES_SENT, Number.MAX_SAFE_INTEGER),
    bytesReceived: a.count(CONNECTION.BYTES_RECEIVED, Number.MAX_SAFE_INTEGER),
    framesSent: a.count(CONNECTION.FRAMES_SENT, Number.MAX_SAFE_INTEGER),
    framesReceived: a.count(CONNECTION.FRAMES_RECEIVED, Number.MAX_SAFE_INTEGER),
    closeCode: a.count(CONNECTION.CLOSE_CODE),
    status: span.status.error ? 'error' : 'ok',
    attributes: rowAttributes(a, span),
    reportedOpen: open === false,
  };
}

const secondsToMs = (seconds: number | null) => (seconds === null ? null : seconds * MS_PER_SECOND);

function serviceOf(span: DecodedSpan): string {
  const name = span.resource[ATTR_SERVICE_NAME];
  return typeof name === 'string' && name !== '' ? name : UNKNOWN_SERVICE;
}

function rowAttributes(a: MappedAttributes, span: DecodedSpan): Record<string, unknown> {
  const attributes = boundAttributes(a.values, MAX_ATTRIBUTES_BYTES, (key) => a.unmapped(key));
  attributes[RESOURCE_KEY] = boundResource(span.resource);
  return attributes;
}

/**
 * A request's spans share one resource object, and so do their rows: bounded once, not
 * once per span (it is never modified after translation).
 */
const boundResources = new WeakMap<Attributes, Attributes>();

function boundResource(resource: Attributes): Attributes {
  let bounded = boundResources.get(resource);
  if (bounded === undefined) {
    bounded = boundAttributes(resource, MAX_RESOURCE_BYTES, (key) => key !== ATTR_SERVICE_NAME);
    boundResources.set(resource, bounded);
  }
  return bounded;
}

/**
 * Keeps the attributes `keep` accepts, in order, until the serialised budget is spent,
 * cutting long strings; the count of those left out is recorded so a reader knows the row
 * is partial.
 */
function boundAttributes(attributes: Attributes, maxBytes: number, keep: (key: string) => boolean): Attributes {
  const kept = emptyAttributes();
  let remaining = maxBytes;
  let dropped = 0;
  // Attribute maps have no prototype: for-in sees exactly their own keys, without an array of entries.
  for (const key in attributes) {
    if (!keep(key)) continue;
    const raw = attributes[key];
    const value = typeof raw === 'string' && raw.length > MAX_ATTRIBUTE_STRING_LENGTH
      ? `${raw.slice(0, MAX_ATTRIBUTE_STRING_LENGTH)}…`
      : raw;
    const size = key.length + (JSON.stringify(value)?.length ?? 0);
    if (size > remaining) {
      dropped += 1;
      continue;
    }
    remaining -= size;
    kept[key] = value;
  }
  if (dropped > 0) kept[DROPPED_ATTRIBUTES_KEY] = dropped;
  return kept;
}

/** Reads attributes into typed column values and remembers which ones it used. */
class MappedAttributes {
  private readonly used = new Set<string>();

  constructor(readonly values: Attributes) {}

  /** The value, with an empty OTLP AnyValue read as absent. */
  consume(key: string): Exclude<AttributeValue, null> | undefined {
    this.used.add(key);
    return this.values[key] ?? undefined;
  }

  text(key: string): string | null {
    const value = this.consume(key);
    if (value === undefined) return null;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw invalid(key, value, 'a string');
  }

  flag(key: string): boolean | null {
    const value = this.consume(key);
    if (value === undefined) return null;
    if (typeof value === 'boolean') return value;
    throw invalid(key, value, 'a boolean');
  }

  /** Any non-negative measure: milliseconds, seconds, tokens per second. */
  measure(key: string): number | null {
    const value = this.consume(key);
    if (value === undefined) return null;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    throw invalid(key, value, 'a finite non-negative number');
  }

  count(key: string, max = INT4_MAX): number | null {
    const value = this.consume(key);
    if (value === undefined) return null;
    if (isCount(value, max)) return value;
    throw invalid(key, value, `an integer from 0 to ${max}`);
  }

  offsets(key: string): number[] | null {
    const value = this.consume(key);
    if (value === undefined) return null;
    if (Array.isArray(value) && value.every((v) => isCount(v, INT4_MAX))) {
      return value.length > MAX_TOKEN_OFFSETS ? (value as number[]).slice(0, MAX_TOKEN_OFFSETS) : (value as number[]);
    }
    throw invalid(key, value, 'an array of integers from 0 to 2147483647 (microseconds)');
  }

  /** True for an attribute not mapped to a column, unless it is prompt or completion text. */
  unmapped(key: string): boolean {
    return !this.used.has(key) && !isContentAttribute(key);
  }
}

function isCount(value: AttributeValue, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

function invalid(key: string, value: AttributeValue, expected: string): InvalidSpanError {
  const shown = JSON.stringify(value) ?? String(value);
  return new InvalidSpanError(`${key} must be ${expected}, got ${typeof value === 'number' ? String(value) : shown.slice(0, 80)}`);
}
