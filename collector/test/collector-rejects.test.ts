/*
 * What the collector answers to input it cannot take whole, and that a rejected request
 * leaves nothing behind: 400 malformed, 413 too large (gzip bombs included), 415, 404,
 * 405, partial success for individually invalid spans, 503 when the database is down.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ExportResultCode } from '@opentelemetry/core';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ATTR_KIND, GEN_AI, KIND, RESPONSE } from '@streamscope/instrumentation/contract';
import { openStore, type Store } from '../../db/client';
import { describeEachDatabase, openTestDatabase, type TestDatabase } from '../../test/support/databases';
import { startCollector } from '../index';
import { RETRY_AFTER_SECONDS } from '../server';
import { MAX_ATTRIBUTE_DEPTH } from '../otlp/decode';
import { responseRow, rowCount, TEST_MAX_BODY_BYTES, useCollector } from './support/collector';
import {
  attribute,
  decodeExportResponse,
  decodeRpcStatus,
  JSON_TYPE,
  jsonRequest,
  jsonSpan,
  post,
  PROTOBUF,
  protobufRequest,
} from './support/otlp-requests';
import { EXPORTERS, exportSpans, hrTimeAt, recentHrTime, recordSpans, type ExporterName } from './support/spans';

const responseSpan = () => jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE), attribute(GEN_AI.REQUEST_MODEL, 'm')] });

/** A raw HTTP exchange: fetch cannot send a Content-Length it does not mean, nor read a reply to a half-sent body. */
function rawPost(url: string, headers: Record<string, string | number>, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/traces`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    // The server may answer and close before the body is through; the answer is what counts.
    req.on('error', (error) => (req.writableEnded ? undefined : reject(error)));
    req.end(body);
  });
}

describeEachDatabase('collector rejects', (database) => {
  const collector = useCollector(database);

  test('a malformed protobuf body gets 400 with a google.rpc.Status naming the problem', async () => {
    const res = await post(collector().url, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), PROTOBUF);
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), PROTOBUF['Content-Type']);
    const status = decodeRpcStatus(await res.arrayBuffer());
    assert.equal(status.code, 3);
    assert.match(status.message ?? '', /malformed protobuf ExportTraceServiceRequest/);
  });

  test('malformed JSON gets 400 with { code, message } naming the problem', async () => {
    for (const body of ['{"resourceSpans": [', '[]', JSON.stringify({ resourceSpans: [{ scopeSpans: 'no' }] })]) {
      const res = await post(collector().url, body, JSON_TYPE);
      assert.equal(res.status, 400, body);
      const status = (await res.json()) as { code: number; message: string };
      assert.equal(status.code, 3);
      assert.match(status.message, /malformed JSON/);
    }
  });

  test('a request whose every span is invalid gets 400 and stores nothing', async () => {
    const service = 'all-invalid-app';
    const body = JSON.stringify(jsonRequest(service, [{ ...responseSpan(), traceId: 'not-hex' }, { ...responseSpan(), spanId: '' }]));
    const res = await post(collector().url, body, JSON_TYPE);
    assert.equal(res.status, 400);
    const { message } = (await res.json()) as { message: string };
    assert.match(message, /2 of 2 spans rejected: resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]: trace_id must be 16 bytes/);
    assert.equal(await rowCount(database().store, service), 0);
  });

  for (const encoding of ['json', 'protobuf'] as const) {
    test(`invalid spans among valid ones are dropped and reported as a partial success (${encoding})`, async () => {
      const service = `partial-app-${encoding}`;
      const now = BigInt(Date.now()) * 1_000_000n;
      const spans = [
        responseSpan(),
        { ...responseSpan(), spanId: '0000000000000000' },
        jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE), { key: RESPONSE.TTFT_MS, value: { doubleValue: 'NaN' } }] }),
        { ...responseSpan(), startTimeUnixNano: String(now + 10n ** 18n), endTimeUnixNano: String(now + 10n ** 18n) },
        responseSpan(),
      ];
      const res = encoding === 'json'
        ? await post(collector().url, JSON.stringify(jsonRequest(service, spans)), JSON_TYPE)
        : await post(collector().url, protobufRequest(service, spans), PROTOBUF);
      assert.equal(res.status, 200);
      const { partialSuccess } = encoding === 'json'
        ? ((await res.json()) as ReturnType<typeof decodeExportResponse>)
        : decodeExportResponse(await res.arrayBuffer());
      assert.equal(String(partialSuccess?.rejectedSpans), '3');
      assert.match(partialSuccess?.errorMessage ?? '', /^3 of 5 spans rejected/);
      assert.match(partialSuccess?.errorMessage ?? '', /span_id must be 8 bytes/);
      assert.match(partialSuccess?.errorMessage ?? '', /streamscope\.response\.ttft_ms must be a finite non-negative number, got NaN/);
      assert.match(partialSuccess?.errorMessage ?? '', /start_time_unix_nano \d+ is not a plausible time/);
      assert.equal(await rowCount(database().store, service), 2);
    });
  }

  test('NUL, which Postgres cannot store, is removed from strings, and "__proto__" is only a key', async () => {
    const span = jsonSpan({
      attributes: [attribute(GEN_AI.REQUEST_MODEL, 'gpt\u0000-4o'), attribute('__proto__', 'kept'), attribute('app.note\u0000', 'a\u0000b')],
    });
    const res = await post(collector().url, JSON.stringify(jsonRequest('hostile-app', [span])), JSON_TYPE);
    assert.equal(res.status, 200);
    const row = await responseRow(database().store, span.spanId);
    assert.equal(row.model, 'gpt-4o');
    assert.equal((row.attributes as Record<string, unknown>)['app.note'], 'ab');
    assert.ok(Object.hasOwn(row.attributes, '__proto__'));
  });

  test('invalid UTF-8 (protobuf or JSON) or an unpaired surrogate in JSON gets 400', async () => {
    const marker = 'UTF8';
    const body = protobufRequest('utf8-app', [jsonSpan({ attributes: [attribute(GEN_AI.REQUEST_MODEL, marker)] })]);
    body.set([0xff, 0xfe, 0xfd, 0xfc], body.indexOf(marker));
    const res = await post(collector().url, body, PROTOBUF);
    assert.equal(res.status, 400);
    assert.match(decodeRpcStatus(await res.arrayBuffer()).message ?? '', /malformed protobuf/);

    const json = JSON.stringify(jsonRequest('utf8-app', [jsonSpan({ attributes: [attribute(GEN_AI.REQUEST_MODEL, 'a\ud800')] })]));
    const jsonRes = await post(collector().url, json, JSON_TYPE);
    assert.equal(jsonRes.status, 400);
    assert.match(((await jsonRes.json()) as { message: string }).message, /unpaired high surrogate/);

    const bytes = Buffer.from(JSON.stringify(jsonRequest('utf8-app', [jsonSpan({ attributes: [attribute(GEN_AI.REQUEST_MODEL, marker)] })])));
    bytes.set([0xff, 0xfe, 0xfd, 0xfc], bytes.indexOf(marker));
    const bytesRes = await post(collector().url, bytes, JSON_TYPE);
    assert.equal(bytesRes.status, 400);
    assert.match(((await bytesRes.json()) as { message: string }).message, /malformed JSON/);
    assert.equal(await rowCount(database().store, 'utf8-app'), 0);
  });

  test('attributes nested deeper than the limit reject their span, not the request', async () => {
    const service = 'deep-app';
    let deep: Record<string, unknown> = { stringValue: 'bottom' };
    for (let i = 0; i < MAX_ATTRIBUTE_DEPTH + 2; i++) deep = { arrayValue: { values: [deep] } };
    const spans = [responseSpan(), jsonSpan({ attributes: [attribute(GEN_AI.REQUEST_MODEL, 'm'), { key: 'deep', value: deep }] })];
    const res = await post(collector().url, JSON.stringify(jsonRequest(service, spans)), JSON_TYPE);
    assert.equal(res.status, 200);
    const { partialSuccess } = (await res.json()) as ReturnType<typeof decodeExportResponse>;
    assert.equal(partialSuccess?.rejectedSpans, '1');
    assert.match(partialSuccess?.errorMessage ?? '', /attribute deep is nested deeper than 8 levels/);
    assert.equal(await rowCount(database().store, service), 1);
  });

  for (const exporter of Object.keys(EXPORTERS) as ExporterName[]) {
    test(`the official ${exporter} exporter takes a partial success as success and a 400 as a failure`, async () => {
      const service = `exporter-answers-${exporter}`;
      const start = recentHrTime();
      const spec = (ttft: number) => ({
        name: 'chat',
        startTime: start,
        endTime: hrTimeAt(start, 100),
        attributes: { [ATTR_KIND]: KIND.RESPONSE, [RESPONSE.TTFT_MS]: ttft },
      });
      const [valid, invalid] = recordSpans({ resource: { [ATTR_SERVICE_NAME]: service } }, [spec(10), spec(-5)]);
      const options = { url: `${collector().url}/v1/traces`, exporter };
      assert.equal((await exportSpans(options, [valid, invalid])).code, ExportResultCode.SUCCESS);
      const failed = await exportSpans(options, [invalid]);
      assert.equal(failed.code, ExportResultCode.FAILED);
      assert.match(String((failed.error as { data?: string } | undefined)?.data ?? failed.error?.message), /ttft_ms must be a finite/);
      assert.equal(await rowCount(database().store, service), 1);
    });
  }

  test('a body over the limit gets 413 before it is read, and nothing is stored', async () => {
    const service = 'too-large-app';
    const body = Buffer.alloc(TEST_MAX_BODY_BYTES + 1, 0x20);
    const res = await rawPost(collector().url, { ...PROTOBUF, 'Content-Length': body.length }, body);
    assert.equal(res.status, 413);
    assert.match(res.body, /body exceeds the limit of 262144 bytes/);
    assert.equal(await rowCount(database().store, service), 0);
  });

  test('a gzip bomb gets 413 once its inflated size passes the limit', async () => {
    const service = 'bomb-app';
    const padding = [attribute('padding', ' '.repeat(64 * 1024 * 1024))];
    const bomb = gzipSync(JSON.stringify(jsonRequest(service, [jsonSpan({ attributes: [attribute(GEN_AI.OPERATION_NAME, 'chat'), ...padding] })])));
    assert.ok(bomb.length < TEST_MAX_BODY_BYTES, 'the compressed body itself is under the limit');
    const res = await post(collector().url, bomb, { ...JSON_TYPE, 'Content-Encoding': 'gzip' });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { message: string }).message, /decompressed body exceeds the limit/);
    assert.equal(await rowCount(database().store, service), 0);
  });

  test('a corrupt gzip body gets 400', async () => {
    const res = await post(collector().url, Buffer.from('not gzip at all'), { ...JSON_TYPE, 'Content-Encoding': 'gzip' });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /malformed gzip body/);
  });

  test('an unsupported content type or encoding gets 415', async () => {
    const body = JSON.stringify(jsonRequest('unsupported-app', [responseSpan()]));
    const byType = await post(collector().url, body, { 'Content-Type': 'text/plain' });
    assert.equal(byType.status, 415);
    assert.match(((await byType.json()) as { message: string }).message, /unsupported Content-Type "text\/plain"/);
    const byEncoding = await post(collector().url, body, { ...JSON_TYPE, 'Content-Encoding': 'br' });
    assert.equal(byEncoding.status, 415);
    assert.equal(await rowCount(database().store, 'unsupported-app'), 0);
  });

  test('a wrong method gets 405 with Allow, an unknown path 404', async () => {
    const get = await fetch(`${collector().url}/v1/traces`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const unknown = await fetch(`${collector().url}/v1/logs`, { method: 'POST', body: '{}', headers: JSON_TYPE });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { message: string }).message, /no route for \/v1\/logs/);
  });

  test('/healthz reports the database and the counters', async () => {
    const res = await fetch(`${collector().url}/healthz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; database: { ok: boolean; driver: string }; stats: Record<string, number> };
    assert.equal(body.status, 'ok');
    assert.equal(body.database.ok, true);
    assert.equal(body.database.driver, database().kind);
    assert.ok(body.stats.exportRequests > 0);
  });

  test('when the database cannot take the write, the answer is 503 with Retry-After', async () => {
    const broken = await unavailableStore(database());
    const down = await startCollector({ store: broken, port: 0 });
    try {
      const res = await post(down.url, protobufRequest('down-app', [responseSpan()]), PROTOBUF);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), String(RETRY_AFTER_SECONDS));
      assert.equal(decodeRpcStatus(await res.arrayBuffer()).code, 14);
      assert.equal((await fetch(`${down.url}/healthz`)).status, 503);
      assert.equal(down.stats.writeFailures, 1);
    } finally {
      await down.close();
    }
  });
});

/** A store of the suite's kind whose database is gone: a dropped server database, or a closed PGlite. */
async function unavailableStore(database: TestDatabase): Promise<Store> {
  if (database.kind === 'postgres') {
    const url = new URL(database.databaseUrl!);
    url.pathname = '/streamscope_no_such_database';
    return openStore({ databaseUrl: url.toString(), maxConnections: 1 });
  }
  const { store, close } = await openTestDatabase('pglite');
  await close();
  return store;
}
