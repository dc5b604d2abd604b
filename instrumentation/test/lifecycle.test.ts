import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { isWrapped } from '@opentelemetry/instrumentation';
import WebSocket from 'ws';
import { ATTR_CONNECTION_ID, RESPONSE } from '../src/contract.ts';
import { MockModelServer, MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupTelemetry, type TestTelemetry } from './utils/telemetry.ts';

async function streamOverFetch(server: MockModelServer): Promise<void> {
  const response = await fetch(`${server.httpURL}/v1/responses`, { method: 'POST', body: '{"stream":true}' });
  await response.text();
}

async function streamOverWs(server: MockModelServer): Promise<void> {
  const ws = new WebSocket(`${server.wsURL}/v1/responses`);
  await once(ws, 'open');
  const done = new Promise((resolve) => ws.on('message', (data) => String(data).includes('response.completed') && resolve(undefined)));
  ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
  await done;
  ws.close();
  await once(ws, 'close');
}

describe('enable and disable', () => {
  const originalFetch = globalThis.fetch;
  const originalSend = WebSocket.prototype.send;
  const originalClose = WebSocket.prototype.close;
  let telemetry: TestTelemetry;
  let server: MockModelServer;
  before(async () => {
    telemetry = setupTelemetry();
    server = await new MockModelServer().listen();
  });
  after(async () => {
    telemetry.instrumentation.disable();
    await server.close();
  });

  it('wraps fetch and the ws prototype while enabled', async () => {
    assert.notEqual(globalThis.fetch, originalFetch);
    assert.ok(isWrapped(WebSocket.prototype.send));
    assert.ok(isWrapped(WebSocket.prototype.emit));
    await streamOverFetch(server);
    await streamOverWs(server);
    await eventually(() => telemetry.responses().length === 2);
  });

  it('restores the originals on disable and records nothing more', async () => {
    telemetry.instrumentation.disable();
    telemetry.instrumentation.disable();
    assert.equal(globalThis.fetch, originalFetch);
    assert.equal(WebSocket.prototype.send, originalSend);
    assert.equal(WebSocket.prototype.close, originalClose);
    assert.equal(Object.hasOwn(WebSocket.prototype, 'emit'), false, 'emit is inherited again');
    const spansBefore = telemetry.exporter.getFinishedSpans().length;
    await streamOverFetch(server);
    await streamOverWs(server);
    assert.equal(telemetry.exporter.getFinishedSpans().length, spansBefore);
  });

  it('records again after a second enable', async () => {
    telemetry.instrumentation.enable();
    telemetry.instrumentation.enable();
    assert.ok(isWrapped(WebSocket.prototype.send));
    const spansBefore = telemetry.responses().length;
    await streamOverFetch(server);
    await streamOverWs(server);
    await eventually(() => telemetry.responses().length === spansBefore + 2);
  });

  it('marks a socket opened while disabled as reused and emits no connection span for it', async () => {
    const fresh = await new MockModelServer().listen();
    telemetry.instrumentation.disable();
    await streamOverFetch(fresh);
    // undici returns the socket to its pool a moment after the body's last chunk.
    await new Promise((resolve) => setTimeout(resolve, 20));
    telemetry.instrumentation.enable();
    const spansBefore = telemetry.responses().length;
    await streamOverFetch(fresh);
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.CONNECTION_REUSED], true);
    await fresh.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(telemetry.connections().filter((c) => c.attributes[ATTR_CONNECTION_ID] === span.attributes[ATTR_CONNECTION_ID]).length, 0);
  });
});
