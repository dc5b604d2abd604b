/*
 * ExportTraceServiceRequest protobuf → normalised spans, read straight off the wire.
 *
 * protobufjs's generated (reflection) decoder makes an object of every message: a span's
 * hundred token offsets are a hundred AnyValue messages and as many Longs, 51 k objects
 * per 512-span request, most of the decode time and nearly all of its garbage. This reader
 * walks the same bytes with protobufjs's own Reader (its varint, fixed64 and strict UTF-8
 * primitives), field numbers taken from the .proto files, and writes what it reads into
 * the normalised span: an int array becomes one number[] and no AnyValue object exists.
 *
 * The reflection decoder stays the reference, and this reader never decides differently:
 * - messages open and close with the generated decoders' bounds checks, and every field
 *   it has no use for is read as the generated decoder reads it — a message by the
 *   generated decoder itself — so invalid UTF-8 in an event name or a truncated link
 *   fails the request with the same error, word for word;
 * - an attribute of any shape it does not take the short way (a value or a oneof member
 *   sent twice, which protobuf merges; nesting past MAX_ATTRIBUTE_DEPTH; any failure) is
 *   decoded again from its first byte by the generated decoder and converted as the
 *   reference path converts it.
 */
import protobuf from 'protobufjs';
import { otlpType } from './messages';
import {
  asInvalidSpan,
  bytesToBase64,
  cleanText,
  emptyAttributes,
  int64ToNumber,
  MAX_ATTRIBUTE_DEPTH,
  scopeOf,
  toValue,
  type AttributeValue,
  type Attributes,
  type PbKeyValue,
  type ReadSpan,
  type ResourceGroup,
  type ScopeGroup,
  type SpanFields,
} from './spans';
import { InvalidSpanError } from '../errors';

const { Reader } = protobuf;
type Reader = protobuf.Reader;

const REQUEST = otlpType('collector.trace.v1.ExportTraceServiceRequest');
const RESOURCE_SPANS = otlpType('trace.v1.ResourceSpans');
const RESOURCE = otlpType('resource.v1.Resource');
const SCOPE_SPANS = otlpType('trace.v1.ScopeSpans');
const SCOPE = otlpType('common.v1.InstrumentationScope');
const SPAN = otlpType('trace.v1.Span');
const STATUS = otlpType('trace.v1.Status');
const KEY_VALUE = otlpType('common.v1.KeyValue');
const ANY_VALUE = otlpType('common.v1.AnyValue');
const ARRAY_VALUE = otlpType('common.v1.ArrayValue');
const KEY_VALUE_LIST = otlpType('common.v1.KeyValueList');

/** The wire type the generated decoder expects of a field; any other is skipped as unknown. */
function wireTypeOf(field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Type) return 2;
  if (field.resolvedType instanceof protobuf.Enum) return 0;
  return protobuf.types.basic[field.type as keyof typeof protobuf.types.basic];
}

/** The tag (field number and wire type) of each named field of `type`, as it arrives. */
function tagsOf<const Name extends string>(type: protobuf.Type, names: readonly Name[]): Record<Name, number> {
  return Object.fromEntries(names.map((name) => {
    const field = type.fields[name];
    if (!field) throw new Error(`${type.fullName} has no field ${name}`);
    return [name, (field.id << 3) | wireTypeOf(field)];
  })) as Record<Name, number>;
}

const { resourceSpans: T_RESOURCE_SPANS } = tagsOf(REQUEST, ['resourceSpans']);
const { resource: T_RESOURCE, scopeSpans: T_SCOPE_SPANS } = tagsOf(RESOURCE_SPANS, ['resource', 'scopeSpans']);
const { attributes: T_RESOURCE_ATTRIBUTES } = tagsOf(RESOURCE, ['attributes']);
const { scope: T_SCOPE, spans: T_SPANS } = tagsOf(SCOPE_SPANS, ['scope', 'spans']);
const { name: T_SCOPE_NAME, version: T_SCOPE_VERSION } = tagsOf(SCOPE, ['name', 'version']);
const {
  traceId: T_TRACE_ID, spanId: T_SPAN_ID, parentSpanId: T_PARENT_SPAN_ID, name: T_NAME, kind: T_KIND,
  startTimeUnixNano: T_START, endTimeUnixNano: T_END, attributes: T_ATTRIBUTES, status: T_STATUS,
} = tagsOf(SPAN, ['traceId', 'spanId', 'parentSpanId', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'status']);
const { message: T_STATUS_MESSAGE, code: T_STATUS_CODE } = tagsOf(STATUS, ['message', 'code']);
const { key: T_KEY, value: T_VALUE } = tagsOf(KEY_VALUE, ['key', 'value']);
const {
  stringValue: T_STRING, boolValue: T_BOOL, intValue: T_INT, doubleValue: T_DOUBLE,
  arrayValue: T_ARRAY, kvlistValue: T_KVLIST, bytesValue: T_BYTES,
} = tagsOf(ANY_VALUE, ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue']);
const { values: T_ARRAY_VALUES } = tagsOf(ARRAY_VALUE, ['values']);
const { values: T_KVLIST_VALUES } = tagsOf(KEY_VALUE_LIST, ['values']);

const NO_BYTES = new Uint8Array(0);
/** Thrown inside an attribute to hand it to the reference decoder; never leaves this module. */
const UNUSUAL = new Error('attribute left to the reference decoder');

/** The request's spans, read; spans.ts validates them. Throws what the generated decoder would throw. */
export function readTraceRequest(body: Uint8Array): ResourceGroup[] {
  const reader = Reader.create(body);
  const resources: ResourceGroup[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === T_RESOURCE_SPANS) resources.push(readResourceSpans(reader, 1));
    else skipField(REQUEST, reader, tag, 0);
  }
  return resources;
}

/**
 * Opens a length-delimited message as a generated decoder does; returns the enclosing
 * limit, for leave(). There is no recursion-depth check: on its own this walk goes at most
 * some 20 messages deep (an attribute MAX_ATTRIBUTE_DEPTH levels down), far from
 * protobufjs's limit, and what is deeper goes to the generated decoder, which checks.
 */
function enter(reader: Reader): number {
  const length = reader.size();
  const end = reader.pos + length;
  if (end > reader.len) throw RangeError('index out of range');
  const limit = reader.len;
  reader.len = end;
  return limit;
}

function leave(reader: Reader, limit: number): void {
  if (reader.pos !== reader.len) throw RangeError('index out of range');
  reader.len = limit;
}

/** The generated decoder of `type` on the nested message at the reader, continuing the walk's recursion depth. */
function decodeReference(type: protobuf.Type, reader: Reader, depth: number): unknown {
  const decode = type.decode as unknown as (reader: Reader, length: number, endGroup: undefined, depth: number) => unknown;
  return decode.call(type, reader, reader.size(), undefined, depth);
}

type ScalarType = Exclude<keyof typeof protobuf.types.basic, 'string'>;

/** A field this reader has no use for, read as the generated decoder of `type` reads it. */
function skipField(type: protobuf.Type, reader: Reader, tag: number, depth: number): void {
  const field = type.fieldsById[tag >>> 3];
  const wireType = tag & 7;
  if (field === undefined || wireType !== wireTypeOf(field)) reader.skipType(wireType, depth, tag >>> 3);
  else if (field.resolvedType instanceof protobuf.Type) decodeReference(field.resolvedType, reader, depth + 1);
  else if (field.resolvedType instanceof protobuf.Enum) reader.int32();
  else if (field.type === 'string') reader.stringVerify();
  else reader[field.type as ScalarType]();
}

/**
 * Walks a nested message field by field: `read` takes the fields it knows (and says so);
 * the rest go to skipField. For the messages a request holds a few of; the hot ones (span,
 * attribute, value, array) have the loop written out, without a closure per message.
 */
function readFields(reader: Reader, type: protobuf.Type, depth: number, read: (tag: number) => boolean): void {
  const limit = enter(reader);
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (!read(tag)) skipField(type, reader, tag, depth);
  }
  leave(reader, limit);
}

function readResourceSpans(reader: Reader, depth: number): ResourceGroup {
  const resource = new AttributeSet();
  const scopes: ScopeGroup[] = [];
  readFields(reader, RESOURCE_SPANS, depth, (tag) => {
    switch (tag) {
      case T_RESOURCE:
        readFields(reader, RESOURCE, depth + 1, (field) => {
          if (field !== T_RESOURCE_ATTRIBUTES) return false;
          readAttribute(reader, depth + 2, resource);
          return true;
        });
        return true;
      case T_SCOPE_SPANS: scopes.push(readScopeSpans(reader, depth + 1)); return true;
      default: return false;
    }
  });
  // The resource may come after the spans on the wire, or twice (and merge).
  return { resource: resource.result('resource: '), scopes };
}

function readScopeSpans(reader: Reader, depth: number): ScopeGroup {
  const scope = { name: '', version: '' };
  const spans: ReadSpan[] = [];
  readFields(reader, SCOPE_SPANS, depth, (tag) => {
    switch (tag) {
      case T_SCOPE: readFields(reader, SCOPE, depth + 1, (field) => readScopeField(reader, field, scope)); return true;
      case T_SPANS: spans.push(readSpan(reader, depth + 1)); return true;
      default: return false;
    }
  });
  return { scope: scopeOf(scope.name, scope.version), spans };
}

function readScopeField(reader: Reader, tag: number, scope: { name: string; version: string }): boolean {
  switch (tag) {
    case T_SCOPE_NAME: scope.name = reader.stringVerify(); return true;
    case T_SCOPE_VERSION: scope.version = reader.stringVerify(); return true;
    default: return false;
  }
}

function readSpan(reader: Reader, depth: number): ReadSpan {
  const limit = enter(reader);
  const fields: SpanFields = {
    traceId: NO_BYTES, spanId: NO_BYTES, parentSpanId: NO_BYTES, name: '', kind: 0, startTimeUnixNano: 0, endTimeUnixNano: 0, status: null,
  };
  const attributes = new AttributeSet();
  let slot = 0;
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    switch (tag) {
      case T_TRACE_ID: fields.traceId = reader.bytes(); break;
      case T_SPAN_ID: fields.spanId = reader.bytes(); break;
      case T_PARENT_SPAN_ID: fields.parentSpanId = reader.bytes(); break;
      case T_NAME: fields.name = reader.stringVerify(); break;
      case T_KIND: fields.kind = reader.int32(); break;
      case T_START: fields.startTimeUnixNano = reader.fixed64(); break;
      case T_END: fields.endTimeUnixNano = reader.fixed64(); break;
      case T_ATTRIBUTES: readAttribute(reader, depth + 1, attributes, slot++); break;
      case T_STATUS: fields.status = readStatus(reader, depth + 1, fields.status ?? { code: 0, message: '' }); break;
      default: skipField(SPAN, reader, tag, depth);
    }
  }
  leave(reader, limit);
  return { fields, attributes: attributes.result() };
}

/** A second status on the wire merges into the first, as protobuf merges any message field. */
function readStatus(reader: Reader, depth: number, status: { code: number; message: string }) {
  readFields(reader, STATUS, depth, (tag) => {
    switch (tag) {
      case T_STATUS_MESSAGE: status.message = reader.stringVerify(); return true;
      case T_STATUS_CODE: status.code = reader.int32(); return true;
      default: return false;
    }
  });
  return status;
}

/** Attributes as they are read, and the first reason (in request order) one of them cannot be stored. */
class AttributeSet {
  readonly values = emptyAttributes();
  error: InvalidSpanError | null = null;

  result(prefix = ''): Attributes | InvalidSpanError {
    if (this.error === null) return this.values;
    return prefix ? new InvalidSpanError(prefix + this.error.message) : this.error;
  }
}

/**
 * One top-level attribute (a KeyValue): the short way, or else the reference decoder's way.
 * `slot` is its place among the span's attributes (-1: not a span's).
 */
function readAttribute(reader: Reader, depth: number, into: AttributeSet, slot = -1): void {
  const start = reader.pos;
  const limit = reader.len;
  try {
    readKeyValue(reader, depth, 0, into.values, slot);
  } catch {
    reader.pos = start;
    reader.len = limit;
    const { key, value } = decodeReference(KEY_VALUE, reader, depth) as PbKeyValue;
    try {
      into.values[cleanText(key)] = toValue(value, 0, key);
    } catch (error) {
      into.error ??= asInvalidSpan(error);
    }
  }
}

/** `attributeDepth` counts array and kvlist levels, as MAX_ATTRIBUTE_DEPTH does; `depth` counts messages. */
function readKeyValue(reader: Reader, depth: number, attributeDepth: number, into: Attributes, slot = -1): void {
  if (attributeDepth > MAX_ATTRIBUTE_DEPTH) throw UNUSUAL;
  const limit = enter(reader);
  let key = '';
  let value: AttributeValue = null;
  let valueRead = false;
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag === T_KEY) key = slot < 0 ? cleanText(reader.stringVerify()) : spanKeys.read(reader, slot);
    else if (tag === T_VALUE) {
      if (valueRead) throw UNUSUAL;
      value = readAnyValue(reader, depth + 1, attributeDepth);
      valueRead = true;
    } else skipField(KEY_VALUE, reader, tag, depth);
  }
  leave(reader, limit);
  into[key] = value;
}

/**
 * Span attribute keys by their place in the span. An exporter writes every span's
 * attributes in one order, so a key is nearly always the bytes the previous span had in
 * that place, and the string made from them then is used again: comparing 30 bytes costs
 * less than making (and hashing, to store it as a property) a new string, 14 k times a request.
 */
class KeyCache {
  private readonly bytes: Uint8Array[] = [];
  private readonly keys: string[] = [];

  read(reader: Reader, slot: number): string {
    const start = reader.pos;
    const length = reader.size();
    const from = reader.pos;
    const cached = this.bytes[slot];
    if (cached !== undefined && cached.length === length && from + length <= reader.len && startsWith(reader.buf, from, cached)) {
      reader.pos = from + length;
      return this.keys[slot];
    }
    reader.pos = start;
    const key = cleanText(reader.stringVerify());
    // Bounded, so that one request of a million attributes or megabyte keys cannot make
    // the thread hold them for good; a copy, so that it keeps no request body alive.
    if (slot < CACHED_SLOTS && length <= CACHED_KEY_BYTES) {
      this.bytes[slot] = reader.buf.slice(from, reader.pos);
      this.keys[slot] = key;
    }
    return key;
  }
}

/** What KeyCache holds at most: the first attributes of a span, with keys of ordinary length. */
const CACHED_SLOTS = 64;
const CACHED_KEY_BYTES = 128;

function startsWith(buf: Uint8Array, at: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

const spanKeys = new KeyCache();

function readAnyValue(reader: Reader, depth: number, attributeDepth: number): AttributeValue {
  const limit = enter(reader);
  let value: AttributeValue = null;
  let members = 0;
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    switch (tag) {
      case T_STRING: value = cleanText(reader.stringVerify()); break;
      case T_BOOL: value = reader.bool(); break;
      case T_INT: value = int64ToNumber(reader.int64()); break;
      case T_DOUBLE: value = reader.double(); break;
      case T_ARRAY: value = readArrayValue(reader, depth + 1, attributeDepth); break;
      case T_KVLIST: value = readKeyValueList(reader, depth + 1, attributeDepth); break;
      case T_BYTES: value = bytesToBase64(reader.bytes()); break;
      default:
        skipField(ANY_VALUE, reader, tag, depth);
        continue;
    }
    members += 1;
  }
  // More than one member set (the same twice, or two of the oneof) is for the reference's rules.
  if (members > 1) throw UNUSUAL;
  leave(reader, limit);
  return value;
}

function readArrayValue(reader: Reader, depth: number, attributeDepth: number): AttributeValue[] {
  const limit = enter(reader);
  const values: AttributeValue[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.tag();
    if (tag !== T_ARRAY_VALUES) skipField(ARRAY_VALUE, reader, tag, depth);
    else if (attributeDepth >= MAX_ATTRIBUTE_DEPTH) throw UNUSUAL;
    else values.push(readElement(reader, depth + 1, attributeDepth + 1));
  }
  leave(reader, limit);
  return values;
}

/**
 * An array element. A token offset is an AnyValue of one small int_value and nothing else:
 * read as a plain number, without the AnyValue or Long the general path would make.
 */
function readElement(reader: Reader, depth: number, attributeDepth: number): AttributeValue {
  const start = reader.pos;
  const length = reader.size();
  const end = reader.pos + length;
  // A varint of at most four bytes is below 2^28, which uint32 reads exactly.
  if (length >= 2 && length <= 5 && end <= reader.len && reader.tag() === T_INT) {
    const value = reader.uint32();
    if (reader.pos === end) return value;
  }
  reader.pos = start;
  return readAnyValue(reader, depth, attributeDepth);
}

function readKeyValueList(reader: Reader, depth: number, attributeDepth: number): Attributes {
  const values = emptyAttributes();
  readFields(reader, KEY_VALUE_LIST, depth, (tag) => {
    if (tag !== T_KVLIST_VALUES) return false;
    readKeyValue(reader, depth + 1, attributeDepth + 1, values);
    return true;
  });
  return values;
}
