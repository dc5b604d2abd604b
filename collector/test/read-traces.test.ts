/*
 * The wire reader (otlp/read-traces.ts) against the decoder it replaces on the hot path,
 * protobufjs's reflection decoder: the same spans, the same rejections and the same 400
 * message, for what the official exporter sends, for shapes no exporter sends, and for
 * every truncation and thousands of corruptions of a real body. (Nothing here is packed:
 * the trace messages have no packed fields, an int array is repeated AnyValue messages.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, type Attributes as OtelAttributes } from '@opentelemetry/api';
import { ATTR_KIND, GEN_AI, KIND, RESPONSE } from '@streamscope/instrumentation/contract';
import protobuf from 'protobufjs';
import { RequestError } from '../errors';
import { decodeTraceRequest, MAX_ATTRIBUTE_DEPTH, type DecodedTraces } from '../otlp/decode';
import { ExportTraceServiceRequest } from '../otlp/messages';
import { startCaptureServer, type CaptureServer } from './support/capture-server';
import { newSpanId, newTraceId } from './support/otlp-requests';
import { exportSpans, hrTimeAt, recentHrTime, recordSpans, type SpanSpec } from './support/spans';

const NOW_MS = Date.now();

type Outcome = { decoded: DecodedTraces } | { error: string };

function outcome(body: Uint8Array, decoder: 'reader' | 'reflection'): Outcome {
  try {
    return { decoded: decodeTraceRequest(body, 'protobuf', NOW_MS, decoder) };
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    assert.equal(error.status, 400);
    return { error: error.message };
  }
}

/** Asserts both decoders agree on `body`; returns what they agreed on. */
function agree(body: Uint8Array, what = ''): Outcome {
  const reference = outcome(body, 'reflection');
  assert.deepEqual(outcome(body, 'reader'), reference, what);
  return reference;
}

function decoded(body: Uint8Array): DecodedTraces {
  const result = agree(body);
  if ('error' in result) assert.fail(`the body did not decode: ${result.error}`);
  return result.decoded;
}

// ---- hand-built messages, written with protobufjs's Writer ----

type Writer = protobuf.Writer;
type Part = (w: Writer) => void;

const LEN = 2;
const msg = (field: number, ...parts: Part[]): Part => (w) => {
  w.uint32((field << 3) | LEN).fork();
  for (const part of parts) part(w);
  w.ldelim();
};
const str = (field: number, value: string): Part => (w) => void w.uint32((field << 3) | LEN).string(value);
const bytes = (field: number, value: Uint8Array): Part => (w) => void w.uint32((field << 3) | LEN).bytes(value);
const varint = (field: number, value: number | string): Part => (w) => void w.uint32(field << 3).int64(value);
const fixed64 = (field: number, value: bigint): Part => (w) => void w.uint32((field << 3) | 1).fixed64(value.toString());
const fixed32 = (field: number, value: number): Part => (w) => void w.uint32((field << 3) | 5).fixed32(value);
const double = (field: number, value: number): Part => (w) => void w.uint32((field << 3) | 1).double(value);
/** Bytes exactly as given, for encodings a Writer never produces. */
const raw = (...values: number[]): Part => (w) => {
  for (const value of values) w.uint32(value);
};

function build(...parts: Part[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const part of parts) part(w);
  return w.finish();
}

// Field numbers as opentelemetry-proto defines them.
const anyValue = {
  string: (value: string) => str(1, value),
  bool: (value: boolean) => varint(2, value ? 1 : 0),
  int: (value: number | string) => varint(3, value),
  double: (value: number) => double(4, value),
  array: (...values: Part[][]) => msg(5, ...values.map((parts) => msg(1, ...parts))),
  kvlist: (...values: Part[]) => msg(6, ...values),
  bytes: (value: Uint8Array) => bytes(7, value),
};
const keyValue = (field: number, key: string, ...value: Part[]) => msg(field, str(1, key), ...(value.length ? [msg(2, ...value)] : []));
/** A KeyValue inside a KeyValueList. */
const entry = (key: string, ...value: Part[]) => keyValue(1, key, ...value);

const startNs = BigInt(NOW_MS - 60_000) * 1_000_000n + 123_456n;
const spanParts = (...extra: Part[]): Part[] => [
  bytes(1, Buffer.from(newTraceId(), 'hex')),
  bytes(2, Buffer.from(newSpanId(), 'hex')),
  str(5, 'chat'),
  varint(6, 3),
  fixed64(7, startNs),
  fixed64(8, startNs + 250_000_000n),
  ...extra,
];
const span = (...extra: Part[]) => msg(2, ...spanParts(...extra));
const attr = (key: string, ...value: Part[]) => keyValue(9, key, ...value);
const scopeSpans = (...parts: Part[]) => msg(2, msg(1, str(1, 'scope'), str(2, '1.0')), ...parts);
const resource = (...attributes: Part[]) => msg(1, ...attributes.map((a) => (w: Writer) => a(w)));
const resourceAttr = (key: string, ...value: Part[]) => keyValue(1, key, ...value);
const request = (...resourceSpans: Part[][]) => build(...resourceSpans.map((parts) => msg(1, ...parts)));
/** One resource, one scope, these spans. */
const simple = (...spans: Part[]) => request([resource(resourceAttr('service.name', anyValue.string('svc'))), scopeSpans(...spans)]);

describe('wire reader against the reflection decoder', () => {
  let capture: CaptureServer;
  before(async () => {
    capture = await startCaptureServer();
  });
  after(() => capture.close());

  async function exported(specsByScope: { scope: string; resource: OtelAttributes; specs: SpanSpec[] }[]): Promise<Uint8Array> {
    capture.requests.length = 0;
    const spans = specsByScope.flatMap(({ scope, resource, specs }) => recordSpans({ scope: { name: scope, version: '2.0' }, resource }, specs));
    await exportSpans({ url: `${capture.url}/v1/traces`, exporter: 'protobuf' }, spans);
    assert.equal(capture.requests.length, 1);
    return capture.requests[0].body;
  }

  test('requests from the official exporter: response spans, events, links, two resources', async () => {
    const start = recentHrTime();
    const offsets = Array.from({ length: 100 }, (_, i) => 150_000 + i * 12_345 + (i === 50 ? 2 ** 28 : 0));
    const response = (i: number): SpanSpec => ({
      name: `chat model-${i}`,
      kind: SpanKind.CLIENT,
      startTime: start,
      endTime: hrTimeAt(start, 1500 + i),
      status: i % 3 === 0 ? { code: SpanStatusCode.ERROR, message: 'stream failed' } : undefined,
      attributes: {
        [ATTR_KIND]: KIND.RESPONSE,
        [GEN_AI.REQUEST_MODEL]: `model-${i % 4}`,
        [GEN_AI.USAGE_OUTPUT_TOKENS]: 100 + i,
        [GEN_AI.RESPONSE_FINISH_REASONS]: ['stop'],
        [RESPONSE.TTFT_MS]: 150.25,
        [RESPONSE.CONNECTION_REUSED]: i % 2 === 0,
        [RESPONSE.TOKEN_OFFSETS_US]: offsets,
        'app.ratios': [0.5, 1.5],
        'app.flags': [true, false],
        'app.empty': '',
        'app.zero': 0,
        'app.negative': -42,
        'app.big': 2 ** 40,
      },
      events: i === 1 ? [{ name: 'token', attributes: { index: 1 }, time: hrTimeAt(start, 10) }] : [],
      links: i === 2 ? [{ context: { traceId: newTraceId(), spanId: newSpanId(), traceFlags: 1 }, attributes: { why: 'retry' } }] : [],
    });
    const body = await exported([
      { scope: 'a', resource: { 'service.name': 'one', 'host.cores': 2 }, specs: [0, 1, 2, 3].map(response) },
      { scope: 'b', resource: { 'service.name': 'two' }, specs: [4, 5].map(response) },
    ]);
    const { spans, rejected } = decoded(body);
    assert.deepEqual(rejected, []);
    assert.equal(spans.length, 6);
    assert.deepEqual(spans[0].attributes[RESPONSE.TOKEN_OFFSETS_US], offsets);
    assert.deepEqual(spans.map((s) => s.resource['service.name']), ['one', 'one', 'one', 'one', 'two', 'two']);
  });

  test('every AnyValue kind, nested arrays and kvlists, and an attribute without a value', () => {
    const { spans: [decodedSpan] } = decoded(simple(span(
      attr('s', anyValue.string('text')),
      attr('t', anyValue.bool(true)),
      attr('f', anyValue.bool(false)),
      attr('i0', anyValue.int(0)),
      attr('neg', anyValue.int(-1)),
      attr('huge', anyValue.int('9007199254740993')),
      attr('d', anyValue.double(-0.25)),
      attr('b', anyValue.bytes(Buffer.from([0, 1, 254, 255]))),
      attr('mixed', anyValue.array([anyValue.int(1)], [anyValue.string('x')], [], [anyValue.array([anyValue.int(2)])])),
      attr('ints', anyValue.array(...[0, 127, 128, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, -5].map((n) => [anyValue.int(n)]))),
      attr('kv', anyValue.kvlist(entry('inner', anyValue.kvlist(entry('leaf', anyValue.double(1)))), entry('none'))),
      attr('emptyArray', anyValue.array()),
      attr('emptyValue', (w) => void w),
      attr('missing'),
    )));
    // Attribute maps (nested ones too) have no prototype; compared as plain JSON.
    assert.deepEqual(JSON.parse(JSON.stringify(decodedSpan.attributes)), {
      s: 'text', t: true, f: false, i0: 0, neg: -1, huge: '9007199254740993', d: -0.25, b: 'AAH+/w==',
      mixed: [1, 'x', null, [2]],
      ints: [0, 127, 128, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, -5],
      kv: { inner: { leaf: 1 }, none: null },
      emptyArray: [], emptyValue: null, missing: null,
    });
  });

  test('shapes protobuf allows and exporters never send: merged fields, odd orders, unknown fields, wrong wire types', () => {
    const cases: Record<string, Uint8Array> = {
      'a value sent twice merges': simple(span(msg(9, str(1, 'k'), msg(2, anyValue.string('one')), msg(2, anyValue.int(2))))),
      'two arrays in one value concatenate': simple(span(msg(9, str(1, 'k'), msg(2, anyValue.array([anyValue.int(1)]), anyValue.array([anyValue.int(2)]))))),
      'two members of the oneof': simple(span(attr('k', anyValue.string('s'), anyValue.int(7)))),
      'value before key': simple(span(msg(9, msg(2, anyValue.int(3)), str(1, 'late-key')))),
      'a key twice': simple(span(msg(9, str(1, 'first'), str(1, 'second'), msg(2, anyValue.bool(true))))),
      'the same key in two attributes': simple(span(attr('k', anyValue.int(1)), attr('k', anyValue.int(2)))),
      'an int element in a non-canonical 5-byte varint': simple(span(attr('k', msg(5, msg(1, raw(0x18, 0x81, 0x80, 0x80, 0x80, 0x00)))))),
      'an int element followed by an unknown field': simple(span(attr('k', msg(5, msg(1, anyValue.int(5), varint(15, 1)))))),
      'two statuses merge': simple(span(msg(15, str(2, 'first'), varint(3, 2)), msg(15, str(2, 'second')))),
      'the resource after its spans, and twice': request([scopeSpans(span()), resource(resourceAttr('service.name', anyValue.string('late'))), resource(resourceAttr('host', anyValue.int(1)))]),
      'the scope after its spans, twice': request([msg(2, span(), msg(1, str(1, 'late-scope')), msg(1, str(2, '9.9')))]),
      'spans in several resources and scopes': request([resource(), scopeSpans(span(), span()), scopeSpans(span())], [scopeSpans(span())]),
      'unknown fields of every wire type at every level': build(
        varint(99, 1),
        msg(1, fixed64(98, 5n), resource(resourceAttr('service.name', anyValue.string('svc')), varint(50, 1)),
          msg(2, fixed32(97, 1), msg(1, str(1, 'scope'), msg(96)), msg(2, ...spanParts(raw(0x9b, 0x06, 0x08, 0x01, 0x9c, 0x06), attr('k', anyValue.int(1), str(20, 'x')), msg(9, str(1, 'kv'), msg(2, anyValue.array([anyValue.int(4)], [anyValue.string('y')]), varint(21, 0)), varint(3, 1)))))),
      ),
      'known fields with the wrong wire type are skipped': simple(span(varint(5, 7), str(6, 'kind?'), attr('k', varint(1, 4), str(3, 'int?')))),
      'span fields the collector does not use': simple(span(str(3, 'vendor=x'), fixed32(16, 0x101), varint(10, 2), varint(12, 1), varint(14, 3),
        msg(11, fixed64(1, startNs), str(2, 'event'), keyValue(3, 'e', anyValue.int(1))), msg(13, bytes(1, Buffer.alloc(16, 1)), bytes(2, Buffer.alloc(8, 2))))),
      'an empty request': build(),
      'an empty ResourceSpans and ScopeSpans': request([], [msg(2)]),
      'a span with no fields at all': simple(msg(2)),
      'a parent span id and every span kind': simple(...[0, 1, 2, 3, 4, 5, 9].map((kind) => span(bytes(4, Buffer.alloc(8, 7)), varint(6, kind)))),
      'NUL in keys, values, names and scope': request([resource(resourceAttr('service.name', anyValue.string('s\u0000vc'))), msg(2, msg(1, str(1, 'sc\u0000ope')), span(str(5, 'ch\u0000at'), attr('k\u0000ey', anyValue.string('v\u0000al'))))]),
      '"__proto__" as a key': simple(span(attr('__proto__', anyValue.string('kept')), attr('x', anyValue.kvlist(entry('__proto__', anyValue.int(1)))))),
    };
    for (const [what, body] of Object.entries(cases)) agree(body, what);
    const merged = decoded(cases['a value sent twice merges']).spans[0].attributes.k;
    assert.equal(merged, 'one', 'the merged value holds both members, and string is read before int');
  });

  test('span attribute keys in a different order from one span to the next', () => {
    // The reader reuses a key string when its bytes match the previous span's at the same place.
    const { spans } = decoded(simple(
      span(attr('ab', anyValue.int(1)), attr('cd', anyValue.int(2))),
      span(attr('ba', anyValue.int(3)), attr('ab', anyValue.int(4))),
      span(attr('ab', anyValue.int(5))),
      span(attr('a\u0000b', anyValue.int(6)), attr('abc', anyValue.int(7))),
    ));
    assert.deepEqual(spans.map((s) => ({ ...s.attributes })), [{ ab: 1, cd: 2 }, { ba: 3, ab: 4 }, { ab: 5 }, { ab: 6, abc: 7 }]);

    // More attributes than the reader keeps keys of, and keys longer than it keeps.
    const many = (n: number) => Array.from({ length: 100 }, (_, i) => attr(`${i % 2 ? 'k'.repeat(200) : 'key'}-${i}`, anyValue.int(n + i)));
    const [first, second] = decoded(simple(span(...many(0)), span(...many(1000)))).spans;
    assert.equal(Object.keys(first.attributes).length, 100);
    assert.equal(second.attributes[`${'k'.repeat(200)}-99`], 1099);
  });

  test('validation: bad ids and times, attributes nested too deep, a bad resource, each rejected in place', () => {
    const nested = (levels: number, leaf: Part[]): Part[] => (levels === 0 ? leaf : [anyValue.array(nested(levels - 1, leaf))]);
    const kvNested = (levels: number): Part[] => (levels === 0 ? [anyValue.int(1)] : [anyValue.kvlist(entry(`level${levels}`, ...kvNested(levels - 1)))]);
    const body = request(
      [resource(resourceAttr('service.name', anyValue.string('svc'))), scopeSpans(
        span(attr('deep-ok', ...nested(MAX_ATTRIBUTE_DEPTH, [anyValue.int(1)]))),
        span(attr('too-deep', ...nested(MAX_ATTRIBUTE_DEPTH + 1, [anyValue.int(1)]))),
        span(attr('kv-too-deep', ...kvNested(MAX_ATTRIBUTE_DEPTH + 1))),
        span(attr('empty-too-deep', ...nested(MAX_ATTRIBUTE_DEPTH, [anyValue.array()]))),
        msg(2, bytes(1, Buffer.alloc(16)), bytes(2, Buffer.alloc(8, 1)), fixed64(7, startNs), fixed64(8, startNs)),
        span(fixed64(8, startNs - 1n)),
        span(fixed64(7, 0n)),
        span(bytes(4, Buffer.alloc(3, 1))),
      )],
      [resource(resourceAttr('deep', ...nested(MAX_ATTRIBUTE_DEPTH + 2, [anyValue.string('x')]))), scopeSpans(span(), span())],
    );
    const { spans, rejected } = decoded(body);
    assert.equal(spans.length, 2);
    assert.deepEqual(rejected.map((r) => r.span), [
      'resourceSpans[0].scopeSpans[0].spans[1]', 'resourceSpans[0].scopeSpans[0].spans[2]', 'resourceSpans[0].scopeSpans[0].spans[4]',
      'resourceSpans[0].scopeSpans[0].spans[5]', 'resourceSpans[0].scopeSpans[0].spans[6]', 'resourceSpans[0].scopeSpans[0].spans[7]',
      'resourceSpans[1].scopeSpans[0].spans[0]', 'resourceSpans[1].scopeSpans[0].spans[1]',
    ]);
    assert.match(rejected[0].reason, /attribute too-deep is nested deeper than 8 levels/);
    assert.match(rejected[1].reason, /attribute level\d is nested deeper than 8 levels/);
    assert.match(rejected[6].reason, /^resource: attribute deep is nested deeper/);
  });

  test('malformed bodies: the same 400 message from both', () => {
    const deep = (levels: number): Part => (levels === 0 ? anyValue.int(1) : anyValue.array([deep(levels - 1)]));
    const cases: Record<string, Uint8Array> = {
      'garbage': Buffer.from('garbage!'),
      'invalid UTF-8 in a key': simple(span(msg(9, bytes(1, Buffer.from([0x61, 0xff])), msg(2, anyValue.int(1))))),
      'invalid UTF-8 in a value': simple(span(attr('k', bytes(1, Buffer.from([0xc3, 0x28]))))),
      'invalid UTF-8 in a span name': simple(span(bytes(5, Buffer.from([0xe2, 0x82])))),
      'invalid UTF-8 in an event name the collector ignores': simple(span(msg(11, bytes(2, Buffer.from([0xff]))))),
      'invalid UTF-8 in trace_state': simple(span(bytes(3, Buffer.from([0x80])))),
      'nesting past the recursion limit': simple(span(attr('k', deep(120)))),
      'a length past the end': build(raw(0x0a, 0x05, 0x12, 0x01)),
      'an end-group tag': build(raw(0x0c)),
      'field number 0': build(raw(0x00, 0x01)),
      'wire type 7': build(raw(0x0f)),
      'an unterminated varint': build(raw(0x08, 0xff, 0xff)),
      'a group that never ends': simple(span(raw(0xfb, 0x06, 0x08, 0x01))),
    };
    for (const [what, body] of Object.entries(cases)) {
      const result = agree(body, what);
      assert.ok('error' in result, `${what} decoded`);
      assert.match(result.error, /^malformed protobuf ExportTraceServiceRequest: /);
    }
  });

  test('every truncation and thousands of corruptions of an exporter body', async () => {
    const start = recentHrTime();
    const body = await exported([{
      scope: 's',
      resource: { 'service.name': 'fuzz' },
      specs: [0, 1].map((i) => ({
        name: 'chat',
        startTime: start,
        endTime: hrTimeAt(start, 100),
        attributes: { [ATTR_KIND]: KIND.RESPONSE, [RESPONSE.TOKEN_OFFSETS_US]: [1, 200, 40_000, 2 ** 30], text: 'é€😀', kv: i, d: 0.5, ok: true },
        events: [{ name: 'e', attributes: { n: 1 }, time: start }],
      })),
    }]);
    const counts = { decoded: 0, failed: 0 };
    const tally = (result: Outcome) => void (counts['error' in result ? 'failed' : 'decoded'] += 1);
    for (let length = 0; length < body.length; length++) tally(agree(body.subarray(0, length), `truncated to ${length} bytes`));

    let seed = 7;
    const random = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let round = 0; round < 3000; round++) {
      const corrupt = Buffer.from(body);
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) corrupt[Math.floor(random() * corrupt.length)] = Math.floor(random() * 256);
      tally(agree(corrupt, `corruption round ${round}`));
    }
    // Both outcomes were exercised, not just one.
    assert.ok(counts.decoded > 100 && counts.failed > 100, JSON.stringify(counts));
  });

  test('the reader keeps the .proto field numbers: an encoded message decodes field by field', () => {
    const message = ExportTraceServiceRequest.fromObject({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [{
          scope: { name: 'lib', version: '3' },
          spans: [{
            traceId: Buffer.from(newTraceId(), 'hex'), spanId: Buffer.from(newSpanId(), 'hex'), parentSpanId: Buffer.from(newSpanId(), 'hex'),
            name: 'op', kind: 2, startTimeUnixNano: startNs.toString(), endTimeUnixNano: (startNs + 5n).toString(),
            attributes: [{ key: 'n', value: { intValue: 12 } }], status: { code: 2, message: 'bad' },
          }],
        }],
      }],
    });
    const { spans: [s] } = decoded(ExportTraceServiceRequest.encode(message).finish());
    assert.deepEqual(
      { name: s.name, kind: s.kind, scope: s.scope, status: s.status, n: s.attributes.n, start: s.startTimeUnixNano, end: s.endTimeUnixNano },
      { name: 'op', kind: 2, scope: { name: 'lib', version: '3' }, status: { error: true, message: 'bad' }, n: 12, start: startNs, end: startNs + 5n },
    );
    assert.equal(s.parentSpanId?.length, 16);
  });
});
