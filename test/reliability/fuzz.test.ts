/*
 * Hostile input: over ten thousand mutations of valid OTLP requests (protobuf and JSON:
 * bit flips, truncations, splices, byte insertions, huge arrays, deep nesting, invalid
 * UTF-8, absurd timestamps, NaN/negative/infinite durations, type confusion, gzip bombs
 * and corrupt gzip) sent one at a time to one collector. Every answer must come within a
 * deadline, be a 200 (full or partial success for a valid remainder) or a 4xx carrying a
 * message — never a 5xx — and a rejected request must leave the row count unchanged.
 * The collector must still be healthy and storing at the end.
 *
 * Mutations come from a seeded generator: FUZZ_SEED replays a run (Postgres runs the seed
 * after it), FUZZ_CASES changes how many; failures name the case's index, kind and seed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import protobufMinimal from 'protobufjs/minimal.js';
import { ATTR_KIND, GEN_AI, KIND, RESPONSE } from '@streamscope/instrumentation/contract';
import { sql } from 'drizzle-orm';
import { startCollector, type Collector } from '../../collector/index';
import { decodeRpcStatus, jsonRequest, jsonSpan, post, protobufRequest, attribute, type JsonSpan } from '../../collector/test/support/otlp-requests';
import { rowCount } from '../../collector/test/support/collector';
import { queryRows } from '../../db/rows';
import { describeEachDatabase, type TestDatabase } from '../support/databases';

const { Writer } = protobufMinimal;
/** Ten thousand in all, most on PGlite (cheaper per case), the rest on Postgres. */
const CASES = {
  pglite: Number(process.env.FUZZ_CASES ?? 6000),
  postgres: Number(process.env.FUZZ_CASES ?? 4000),
};
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const ANSWER_DEADLINE_MS = 5000;
const CHECK_EVERY = 50;
/** Small enough that gzip bombs and huge arrays cross it cheaply. */
const MAX_BODY_BYTES = 1024 * 1024;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)] };
}
type Random = ReturnType<typeof generator>;

type Encoding = 'protobuf' | 'json';
interface Case {
  kind: string;
  encoding: Encoding;
  body: Buffer;
  headers?: Record<string, string>;
}

const CONTENT_TYPES: Record<Encoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

function validSpans(random: Random): JsonSpan[] {
  return Array.from({ length: 1 + random.int(4) }, (_, i) => jsonSpan({
    name: `chat ${i}`,
    attributes: [
      attribute(ATTR_KIND, i === 3 ? KIND.CONNECTION : KIND.RESPONSE),
      attribute(GEN_AI.REQUEST_MODEL, 'fuzz-model'),
      attribute(RESPONSE.TTFT_MS, 12.5),
      attribute(RESPONSE.OUTPUT_CHUNKS, 3),
      { key: RESPONSE.TOKEN_OFFSETS_US, value: { arrayValue: { values: [{ intValue: 12_500 }, { intValue: 20_000 }, { intValue: 31_000 }] } } },
      attribute('app.note', 'ünïcødé ✓'),
    ],
  }));
}

function encode(encoding: Encoding, spans: JsonSpan[]): Buffer {
  return encoding === 'protobuf' ? protobufRequest('fuzz-app', spans) : Buffer.from(JSON.stringify(jsonRequest('fuzz-app', spans)));
}

/** Byte-level mutations of a valid body. */
const byteMutations: Record<string, (random: Random, body: Buffer, other: Buffer) => Buffer> = {
  bitFlips(random, body) {
    const out = Buffer.from(body);
    for (let i = 1 + random.int(8); i > 0; i--) out[random.int(out.length)] ^= 1 << random.int(8);
    return out;
  },
  truncation: (random, body) => body.subarray(0, random.int(body.length)),
  splice: (random, body, other) => Buffer.concat([body.subarray(0, random.int(body.length)), other.subarray(random.int(other.length))]),
  insertion(random, body) {
    const at = random.int(body.length);
    const junk = Buffer.from(Array.from({ length: 1 + random.int(16) }, () => random.pick([0x00, 0xff, 0x80, 0xc3, 0xed, 0x7b, 0x22, random.int(256)])));
    return Buffer.concat([body.subarray(0, at), junk, body.subarray(at)]);
  },
  duplication(random, body) {
    const from = random.int(body.length);
    const piece = body.subarray(from, from + 1 + random.int(64));
    return Buffer.concat([body, piece, piece]);
  },
};

/**
 * A protobuf request whose one span carries an attribute nested `levels` arrays deep,
 * written field by field: protobufjs' own encoder stops at 100 levels, as its decoder does.
 */
function deepProtobufRequest(levels: number): Buffer {
  const span = jsonSpan();
  const field = (number: number, wireType: number) => (number << 3) | wireType;
  const w = Writer.create();
  w.uint32(field(1, 2)).fork().uint32(field(2, 2)).fork().uint32(field(2, 2)).fork(); // resource_spans, scope_spans, spans
  w.uint32(field(1, 2)).bytes(Buffer.from(span.traceId, 'hex')).uint32(field(2, 2)).bytes(Buffer.from(span.spanId, 'hex'));
  w.uint32(field(5, 2)).string('deep');
  w.uint32(field(7, 1)).fixed64(Number(span.startTimeUnixNano)).uint32(field(8, 1)).fixed64(Number(span.endTimeUnixNano));
  w.uint32(field(9, 2)).fork().uint32(field(1, 2)).string('deep').uint32(field(2, 2)).fork(); // attributes: key, value
  for (let i = 0; i < levels; i++) w.uint32(field(5, 2)).fork().uint32(field(1, 2)).fork(); // array_value.values
  w.uint32(field(1, 2)).string('bottom');
  for (let i = 0; i < 2 * levels + 5; i++) w.ldelim();
  return Buffer.from(w.finish());
}

/** Structural mutations: valid framing, hostile content. */
const structuralMutations: Record<string, (random: Random) => JsonSpan[]> = {
  hugeArray: (random) => [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE),
    { key: random.pick(['big', RESPONSE.TOKEN_OFFSETS_US]), value: { arrayValue: { values: Array.from({ length: 10_000 + random.int(90_000) }, (_, i) => ({ intValue: i })) } } }] })],
  deepNesting(random) {
    let value: Record<string, unknown> = { stringValue: 'bottom' };
    for (let depth = 5 + random.int(20); depth > 0; depth--) {
      value = random.next() < 0.5 ? { kvlistValue: { values: [{ key: 'k', value }] } } : { arrayValue: { values: [value] } };
    }
    return [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE), { key: 'deep', value }] })];
  },
  absurdTimestamps: (random) => [jsonSpan({
    attributes: [attribute(ATTR_KIND, KIND.RESPONSE)],
    startTimeUnixNano: random.pick(['0', '1', '18446744073709551615', '9223372036854775807', String(BigInt(Date.now() + 10 * 86_400_000) * 1_000_000n)]),
    endTimeUnixNano: random.pick(['0', '18446744073709551615', String(BigInt(Date.now()) * 1_000_000n)]),
  })],
  badDurations: (random) => [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE),
    { key: random.pick([RESPONSE.TTFT_MS, RESPONSE.DURATION_MS, RESPONSE.ITL_P99_MS, GEN_AI.USAGE_OUTPUT_TOKENS]),
      value: { doubleValue: random.pick([Number.NaN, -1, -Number.MAX_VALUE, Number.POSITIVE_INFINITY, 1e308, 0.5]) } }] })],
  badIds: (random) => [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE)],
    traceId: random.pick(['', '00000000000000000000000000000000', 'ab', 'ff'.repeat(40)]), spanId: random.pick(['', '0000000000000000', 'abc'.repeat(3)]) })],
  manySpans: (random) => Array.from({ length: 100 + random.int(400) }, () => jsonSpan({ attributes: [attribute(ATTR_KIND, random.pick([KIND.RESPONSE, 'nonsense']))] })),
  hugeStrings: (random) => [jsonSpan({ name: 'x'.repeat(random.int(200_000)), attributes: [attribute(ATTR_KIND, KIND.RESPONSE), attribute('long', 'y'.repeat(random.int(300_000)))] })],
};

/** JSON-only: text the JSON reader must refuse or survive. */
/** The big ones are few: each costs what a hundred small ones do. */
const STRUCTURAL_KINDS = Object.keys(structuralMutations).flatMap((kind) => Array<string>(['hugeArray', 'manySpans', 'hugeStrings'].includes(kind) ? 1 : 8).fill(kind));

const jsonMutations: Record<string, (random: Random, text: string) => string> = {
  typeConfusion(random, text) {
    const replacement = random.pick(['null', '[]', '{}', '"x"', '1e400', '-0', 'true', '[[[[[[]]]]]]', '{"__proto__":{"polluted":1}}']);
    const quotes = [...text.matchAll(/"[a-zA-Z]+":/g)];
    if (quotes.length === 0) return text;
    const match = random.pick(quotes);
    const start = match.index! + match[0].length;
    const end = text.slice(start).search(/[,}\]]/);
    return text.slice(0, start) + replacement + text.slice(start + Math.max(end, 0));
  },
  deepJson: (random) => '['.repeat(1000 + random.int(100_000)),
  loneSurrogate: (_random, text) => text.replace('chat', '\\ud800chat'),
  invalidUtf8Escape: (_random, text) => text.replace('chat', 'ch\\u00'),
};

/** The fixed hostile bodies every run includes once. */
function fixedCases(): Case[] {
  const valid = encode('protobuf', [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE)] })]);
  const bomb = gzipSync(Buffer.alloc(16 * MAX_BODY_BYTES), { level: 9 });
  return [
    { kind: 'gzipBomb', encoding: 'protobuf', body: bomb, headers: { 'Content-Encoding': 'gzip' } },
    { kind: 'gzipBombJson', encoding: 'json', body: bomb, headers: { 'Content-Encoding': 'gzip' } },
    { kind: 'nestedGzip', encoding: 'protobuf', body: gzipSync(gzipSync(valid)), headers: { 'Content-Encoding': 'gzip' } },
    { kind: 'wrongEncoding', encoding: 'protobuf', body: valid, headers: { 'Content-Encoding': 'br' } },
    { kind: 'wrongType', encoding: 'protobuf', body: valid, headers: { 'Content-Type': 'text/plain' } },
    { kind: 'empty', encoding: 'json', body: Buffer.alloc(0) },
  ];
}

function mutate(random: Random): Case {
  const encoding: Encoding = random.next() < 0.5 ? 'protobuf' : 'json';
  const roll = random.next();
  let kind: string;
  let body: Buffer;
  if (roll < 0.6) {
    kind = random.pick(Object.keys(byteMutations));
    const valid = encode(encoding, validSpans(random));
    body = byteMutations[kind](random, valid, kind === 'splice' ? encode(encoding, validSpans(random)) : valid);
  } else if (roll < 0.63) {
    kind = 'deepNesting';
    const levels = 5 + random.int(400);
    body = encoding === 'protobuf'
      ? deepProtobufRequest(levels)
      : Buffer.from(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${'ab'.repeat(16)}","spanId":"${'cd'.repeat(8)}","name":"x","attributes":[{"key":"deep","value":${
        '{"arrayValue":{"values":['.repeat(levels)}{"stringValue":"bottom"}${']}}'.repeat(levels)}}]}]}]}]}`);
  } else if (roll < 0.8 || encoding === 'protobuf') {
    kind = random.pick(STRUCTURAL_KINDS);
    body = encode(encoding, structuralMutations[kind](random));
  } else {
    kind = random.pick(Object.keys(jsonMutations));
    body = Buffer.from(jsonMutations[kind](random, encode('json', validSpans(random)).toString()));
  }
  // Some go gzipped, intact or with the gzip stream itself damaged.
  const gzip = random.next();
  if (gzip < 0.1) return { kind: `${kind}+gzip`, encoding, body: gzipSync(body), headers: { 'Content-Encoding': 'gzip' } };
  if (gzip < 0.13) {
    return { kind: `${kind}+corruptGzip`, encoding, body: byteMutations.bitFlips(random, gzipSync(body), body), headers: { 'Content-Encoding': 'gzip' } };
  }
  return { kind, encoding, body };
}

async function totalRows(testDatabase: TestDatabase): Promise<number> {
  const [row] = await queryRows<{ n: number }>(testDatabase.store.db, sql`
    select (select count(*) from responses) + (select count(*) from connections) as n`);
  return Number(row.n);
}

/**
 * One POST on a kept-alive node:http connection: several times cheaper than fetch, which
 * matters over ten thousand cases. The server may answer (413, 415) and close before the
 * body is through; the answer is what counts.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
function send(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; contentType?: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        answered = true;
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) });
      });
    });
    req.setTimeout(ANSWER_DEADLINE_MS, () => req.destroy(new Error(`no answer within ${ANSWER_DEADLINE_MS} ms`)));
    req.on('error', (error) => (answered ? undefined : reject(error)));
    req.end(body);
  });
}

after(() => agent.destroy());

describeEachDatabase('collector fuzz', (database) => {
  let collector: Collector;
  before(async () => {
    collector = await startCollector({ store: database().store, port: 0, maxBodyBytes: MAX_BODY_BYTES });
  });
  after(() => collector?.close());

  const cases = () => CASES[database().kind];
  const seed = () => SEED + (database().kind === 'postgres' ? 1 : 0);

  test('mutated requests: no crash, no hang, 200 or 4xx with a message, nothing stored from a rejected request', async () => {
    const runSeed = seed();
    const random = generator(runSeed);
    const statuses: Record<string, number> = {};
    const kinds: Record<string, number> = {};
    let rows = await totalRows(database());
    let commits = collector.stats.writeTransactions;
    /** The last case whose effect on the row count is known. */
    let since = -1;
    let acceptedSinceCheck = false;
    const fixed = fixedCases();
    const total = fixed.length + cases();
    for (let index = 0; index < total; index++) {
      const c = index < fixed.length ? fixed[index] : mutate(random);
      const where = `case ${index} (${c.kind}, ${c.encoding}, seed ${runSeed})`;
      const res = await send(`${collector.url}/v1/traces`, c.body, { 'Content-Type': CONTENT_TYPES[c.encoding], ...c.headers })
        .catch((error: Error) => assert.fail(`${where}: no answer: ${error.message}`));
      const answer = res.body;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      kinds[c.kind.split('+')[0]] = (kinds[c.kind.split('+')[0]] ?? 0) + 1;
      assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `${where}: status ${res.status}: ${answer}`);
      let message: string | undefined;
      if (res.status !== 200) {
        message = res.contentType === CONTENT_TYPES.protobuf
          ? decodeRpcStatus(new Uint8Array(answer).buffer).message
          : (JSON.parse(answer.toString()) as { message?: string }).message;
        assert.ok(message, `${where}: ${res.status} without a message`);
      }
      // Counting rows after every case would cost more than the cases: count after any case
      // the collector committed something for, and after every CHECK_EVERY cases in any
      // event, which would catch a write the collector did not account for.
      if (res.status === 200) acceptedSinceCheck = true;
      if (collector.stats.writeTransactions !== commits || index % CHECK_EVERY === 0) {
        commits = collector.stats.writeTransactions;
        const now = await totalRows(database());
        if (!acceptedSinceCheck) {
          assert.equal(now, rows, `cases ${since + 1}..${index} (last: ${where}: ${message}) were all rejected, yet ${now - rows} rows appeared`);
        }
        rows = now;
        since = index;
        acceptedSinceCheck = false;
      }
    }
    const health = await fetch(`${collector.url}/healthz`, { signal: AbortSignal.timeout(ANSWER_DEADLINE_MS) });
    assert.equal(health.status, 200);
    const probe = await post(collector.url, protobufRequest('after-fuzz', [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE)] })]), { 'Content-Type': CONTENT_TYPES.protobuf });
    assert.equal(probe.status, 200);
    assert.equal(await rowCount(database().store, 'after-fuzz'), 1);
    console.log(JSON.stringify({ test: 'fuzz', database: database().kind, seed: runSeed, cases: total, statuses, kinds, rowsStored: rows }));
  });
});
