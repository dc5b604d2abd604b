/*
 * The threads that decode and translate export requests: what they hand back is what the
 * collector would have prepared itself, a request's own error still names its problem,
 * and a thread that dies fails only the requests it held, retryably, and is replaced.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ATTR_KIND, KIND, RESPONSE } from '@streamscope/instrumentation/contract';
import { prepareBatch } from '../batch';
import { PrepareUnavailableError, RequestError } from '../errors';
import { createPreparePool } from '../prepare-pool';
import { attribute, jsonSpan, protobufRequest } from './support/otlp-requests';

/** Up to the largest int4: the column's range, which translation enforces. */
const TOKEN_OFFSETS_US = [120_000, 135_500, 2_147_483_647];
const body = protobufRequest('svc', [
  jsonSpan({
    attributes: [
      attribute(ATTR_KIND, KIND.RESPONSE),
      attribute('__proto__', 'kept'),
      attribute(RESPONSE.TTFT_MS, 120),
      { key: RESPONSE.TOKEN_OFFSETS_US, value: { arrayValue: { values: TOKEN_OFFSETS_US.map((intValue) => ({ intValue })) } } },
    ],
  }),
  jsonSpan({ traceId: '00'.repeat(16) }),
]);
const CRASH = Buffer.from('crash');

const pool = createPreparePool({ size: 1, workerUrl: new URL('./support/crashing-prepare-thread.mjs', import.meta.url) });
after(() => pool.close());

test('a thread prepares the same rows, rejections and counts as the event loop', async () => {
  const prepared = await pool.prepare(body, 'protobuf');
  // Answers cross threads by structured clone, which gives attribute maps an ordinary
  // prototype (their keys stay own data properties, "__proto__" included).
  assert.deepEqual(prepared, structuredClone(prepareBatch(body, 'protobuf')));
  assert.equal(prepared.responses.length, 1);
  assert.deepEqual(prepared.responses[0].tokenOffsetsUs, TOKEN_OFFSETS_US);
  assert.equal(prepared.rejected.length, 1);
  assert.ok(prepared.responses[0].startTime instanceof Date);
  assert.equal((prepared.responses[0].attributes as Record<string, unknown>)['__proto__'], 'kept');
});

test('a body that does not parse is a 400 naming the problem, as on the event loop', async () => {
  const garbage = Buffer.from('garbage!');
  const expected = (() => {
    try {
      prepareBatch(garbage, 'protobuf');
    } catch (error) {
      return error as RequestError;
    }
    throw new Error('the garbage body parsed');
  })();
  await assert.rejects(pool.prepare(garbage, 'protobuf'), (error: unknown) => {
    assert.ok(error instanceof RequestError);
    assert.equal(error.status, 400);
    assert.equal(error.message, expected.message);
    assert.match(error.message, /^malformed protobuf ExportTraceServiceRequest: /);
    return true;
  });
});

test('a thread that dies fails the requests it held as retryable, and the next one is prepared', async () => {
  const held = [pool.prepare(body, 'protobuf'), pool.prepare(CRASH, 'protobuf'), pool.prepare(body, 'protobuf')];
  const settled = await Promise.allSettled(held);
  // The request queued before the crash was answered; the crash and whatever waited behind it were not.
  assert.equal(settled[0].status, 'fulfilled');
  for (const outcome of settled.slice(1)) {
    assert.equal(outcome.status, 'rejected');
    assert.ok(outcome.reason instanceof PrepareUnavailableError);
    assert.match(outcome.reason.message, /the thread decoding this request stopped \(exit code 3\), retry later/);
  }
  const after = await pool.prepare(body, 'protobuf');
  assert.equal(after.responses.length, 1);
});
