import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { OUTCOME, RESPONSE } from '../src/contract.ts';
import { assertMatchesSchedule } from './utils/assert-timing.ts';
import { eventually, setupSuite } from './utils/telemetry.ts';

const CHAT_BODY = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

interface Dispatcher {
  dispatch(options: object, handler: object): boolean;
}

/** How the body of a streamed response is observed, however the application reads it (or does not). */
describe('SSE body observation', () => {
  const suite = setupSuite();
  const { telemetry } = suite;
  const chatUrl = () => `${suite.server.httpURL}/v1/chat/completions`;
  const lastSent = () => [suite.server.sent.at(-1)!, suite.server.scheduleFor(suite.server.sent.length - 1)] as const;

  it('times every chunk as it arrives even when the application reads the body only afterwards', async () => {
    const spansBefore = telemetry.responses().length;
    const response = await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY });
    // Nothing reads the body while it streams: the span still ends with the stream.
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    const [sent, schedule] = lastSent();
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assertMatchesSchedule(span, sent, schedule);
    const text = await response.text();
    for (const token of schedule.tokens) assert.ok(text.includes(JSON.stringify(token)), `the body still holds ${token}`);
    assert.ok(text.endsWith('data: [DONE]\n\n'));
  });

  it('records the same timeline when the body is read with text() as when it is read chunk by chunk', async () => {
    const spansBefore = telemetry.responses().length;
    await (await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY })).text();
    const [sentRead, scheduleRead] = lastSent();
    const reader = (await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY })).body!.getReader();
    while (!(await reader.read()).done);
    const [sentIterated, scheduleIterated] = lastSent();
    const [read, iteratedSpan] = await eventually(() => telemetry.responses().length >= spansBefore + 2 && telemetry.responses().slice(spansBefore));
    assertMatchesSchedule(read, sentRead, scheduleRead);
    assertMatchesSchedule(iteratedSpan, sentIterated, scheduleIterated);
  });

  it('gives the application undici’s own response', async () => {
    const response = await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY });
    assert.equal(response.url, chatUrl());
    assert.equal(response.type, 'basic');
    assert.equal(response.redirected, false);
    assert.equal(response.bodyUsed, false);
    await response.body!.cancel();
  });

  it('records a body the application cancels with a reason of its own as aborted', async () => {
    const spansBefore = telemetry.responses().length;
    const response = await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel(new Error('the user left'));
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.ABORTED);
  });

  it('sends the request through the dispatcher the application gave fetch', async () => {
    const spansBefore = telemetry.responses().length;
    const global = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] as Dispatcher;
    const origins: string[] = [];
    const dispatcher: Dispatcher = {
      dispatch(options, handler) {
        origins.push(String((options as { origin?: unknown }).origin));
        return global.dispatch(options, handler);
      },
    };
    const response = await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY, dispatcher } as RequestInit);
    await response.text();
    assert.deepEqual(origins, [suite.server.httpURL]);
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assertMatchesSchedule(span, ...lastSent());
  });

  it('leaves an init whose fields throw for fetch to reject, as it would uninstrumented', async () => {
    const init = {
      method: 'POST',
      get body(): string {
        throw new Error('no body for you');
      },
    };
    await assert.rejects(fetch(chatUrl(), init), /no body for you/);
  });

  it('times a request made with a Request object', async () => {
    const spansBefore = telemetry.responses().length;
    await (await fetch(new Request(chatUrl(), { method: 'POST', body: CHAT_BODY }))).text();
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assertMatchesSchedule(span, ...lastSent());
  });

  it('records no response for a bodiless status, whatever its content type', async () => {
    suite.server.onHttpRequest = (_req, res) => {
      res.writeHead(204, { 'content-type': 'text/event-stream' }).end();
      return true;
    };
    const spansBefore = telemetry.responses().length;
    try {
      assert.equal((await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY })).status, 204);
    } finally {
      suite.server.onHttpRequest = undefined;
    }
    // The next stream's span is the first one recorded after the 204.
    await (await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY })).text();
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assertMatchesSchedule(span, ...lastSent());
  });

  it('observes a compressed body after fetch has decoded it', async () => {
    const events = ['{"id":"c1","model":"m","choices":[{"delta":{"content":"Hel"}}]}', '{"id":"c1","model":"m","choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}', '[DONE]'];
    const sse = events.map((data) => `data: ${data}\n\n`).join('');
    suite.server.onHttpRequest = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
      res.end(gzipSync(sse));
      return true;
    };
    const spansBefore = telemetry.responses().length;
    try {
      const response = await fetch(chatUrl(), { method: 'POST', body: CHAT_BODY });
      assert.equal(await response.text(), sse);
    } finally {
      suite.server.onHttpRequest = undefined;
    }
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assert.equal(span.attributes[RESPONSE.OUTPUT_CHUNKS], 2);
  });
});
