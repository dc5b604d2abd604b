import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import WebSocket from 'ws';
import { ATTR_API, API, GEN_AI, OUTCOME, RESPONSE } from '../src/contract.ts';
import { MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupSuite } from './utils/telemetry.ts';

const HOSTILE_FRAMES: (string | Buffer)[] = [
  '{"type":"response.created","response":{"id":"resp_h","model":"m"}}',
  '{"type":"response.output_text.delta","delta":"ok"}',
  '{"type":"response.output_text.delta",',
  'not json at all',
  '{"type":"response.made_up_event","x":1}',
  Buffer.from([0xff, 0x00, 0xfe, 0x7b]),
  '{"type":"response.completed","response":{"id":"resp_h","usage":"not an object"}}',
  '{"type":"response.completed"',
];

const GARBAGE_SSE = [
  'data: {"type":"response.created","response":{"id":"resp_g"}}\n\n',
  'data: {broken json\n\n',
  ': a comment\n\n',
  'event: nonsense\nrandom line without colon\ndata:\n\n',
  'data: {"type":"response.output_text.delta","delta":"é"}\r\n\r\n',
  '\u0000\u0001 binary-ish garbage \n\n',
].join('');

describe('hostile traffic', () => {
  const suite = setupSuite();
  const { telemetry } = suite;

  it('passes malformed, binary and unknown WebSocket frames through unchanged', async () => {
    suite.server.onWebSocketMessage = (socket) => {
      for (const frame of HOSTILE_FRAMES) socket.send(frame, { binary: Buffer.isBuffer(frame) });
      return true;
    };
    const ws = new WebSocket(`${suite.server.wsURL}/v1/responses`);
    await once(ws, 'open');
    const received: Buffer[] = [];
    ws.on('message', (data: Buffer) => received.push(data));
    ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
    await eventually(() => received.length === HOSTILE_FRAMES.length);
    assert.deepEqual(received, HOSTILE_FRAMES.map((f) => Buffer.from(f)));
    const span = await eventually(() => telemetry.responses().find((s) => s.attributes[ATTR_API] === API.OPENAI_RESPONSES));
    // The first terminal event ended it, though its usage was garbage.
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assert.equal(span.attributes[RESPONSE.OUTPUT_CHUNKS], 2);
    ws.close();
    suite.server.onWebSocketMessage = undefined;
  });

  it('ends open WebSocket responses as connection_lost when the server dies', async () => {
    const spansBefore = telemetry.responses().length;
    const ws = new WebSocket(`${suite.server.wsURL}/v1/responses`);
    await once(ws, 'open');
    const firstToken = new Promise<void>((resolve) => ws.on('message', (data) => String(data).includes('.delta') && resolve()));
    ws.on('error', () => undefined);
    ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
    await firstToken;
    suite.server.kill();
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.CONNECTION_LOST);
    assert.ok((span.attributes[RESPONSE.OUTPUT_CHUNKS] as number) >= 1);
  });

  it('gives the application the exact bytes of a garbage SSE body', async () => {
    suite.server.onHttpRequest = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(GARBAGE_SSE);
      return true;
    };
    const spansBefore = telemetry.responses().length;
    const response = await fetch(`${suite.server.httpURL}/v1/responses`, { method: 'POST', body: '{"stream":true}' });
    assert.equal(await response.text(), GARBAGE_SSE);
    assert.equal(response.url, `${suite.server.httpURL}/v1/responses`);
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.CONNECTION_LOST, 'no terminal event arrived');
    assert.equal(span.attributes[RESPONSE.OUTPUT_CHUNKS], 1);
    suite.server.onHttpRequest = undefined;
  });

  it('records an application abort mid-stream as aborted', async () => {
    const spansBefore = telemetry.responses().length;
    const client = new OpenAI({ apiKey: 'test', baseURL: `${suite.server.httpURL}/v1`, maxRetries: 0 });
    const controller = new AbortController();
    const stream = await client.responses.create({ model: MOCK_MODEL, input: 'hi', stream: true }, { signal: controller.signal });
    const received: string[] = [];
    // The client ends its iteration quietly on abort; the span must still say what happened.
    for await (const event of stream) {
      received.push(event.type);
      if (event.type === 'response.output_text.delta') controller.abort();
    }
    assert.equal(received.at(-1), 'response.output_text.delta');
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.ABORTED);
    assert.ok(span.attributes[RESPONSE.TTFT_MS] !== undefined);
  });

  it('records an SSE stream cut by the server as connection_lost and surfaces the same error', async () => {
    const spansBefore = telemetry.responses().length;
    const response = await fetch(`${suite.server.httpURL}/v1/responses`, { method: 'POST', body: '{"stream":true}' });
    const reader = response.body!.getReader();
    await reader.read();
    suite.server.kill();
    const error = await (async () => {
      for (;;) if ((await reader.read()).done) return undefined;
    })().catch((err: unknown) => err);
    assert.ok(error instanceof TypeError, 'undici reports a terminated body as a TypeError');
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.CONNECTION_LOST);
  });

  it('records an HTTP error status from a streaming endpoint as failed', async () => {
    suite.server.onHttpRequest = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json' }).end('{"error":{"message":"slow down"}}');
      return true;
    };
    const spansBefore = telemetry.responses().length;
    const response = await fetch(`${suite.server.httpURL}/v1/chat/completions`, { method: 'POST', body: '{"stream":true,"model":"m"}' });
    assert.equal(response.status, 429);
    assert.deepEqual(await response.json(), { error: { message: 'slow down' } });
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.FAILED);
    assert.equal(span.attributes[GEN_AI.REQUEST_MODEL], 'm');
    suite.server.onHttpRequest = undefined;
  });

  it('records a refused request to a streaming endpoint without a token', async () => {
    const spansBefore = telemetry.responses().length;
    await assert.rejects(fetch('http://127.0.0.1:1/v1/responses', { method: 'POST', body: '{"stream":true,"model":"m"}' }));
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.CONNECTION_LOST);
    assert.equal(span.attributes[RESPONSE.TTFT_MS], undefined);
  });
});
