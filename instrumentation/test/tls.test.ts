import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import WebSocket from 'ws';
import { ATTR_CONNECTION_ID, ATTR_TRANSPORT, CONNECTION, OUTCOME, RESPONSE, TRANSPORT } from '../src/contract.ts';
import { MockModelServer, MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupTelemetry } from './utils/telemetry.ts';

describe('wss connection phases', () => {
  const telemetry = setupTelemetry();
  let server: MockModelServer;
  before(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    server = await new MockModelServer({ tls: { key: pems.private, cert: pems.cert } }).listen();
  });
  after(async () => {
    telemetry.instrumentation.disable();
    await server.close();
  });

  it('reports DNS, TCP, TLS and upgrade times for a new wss connection', async () => {
    // A host name, not an IP literal, so the connection does a lookup.
    const ws = new WebSocket(`wss://localhost:${server.port}/v1/responses`, { rejectUnauthorized: false });
    await once(ws, 'open');
    const done = new Promise((resolve) => ws.on('message', (data) => String(data).includes('response.completed') && resolve(undefined)));
    ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
    await done;
    ws.close();
    const connection = await eventually(() => telemetry.connections()[0]);
    for (const phase of [CONNECTION.DNS_MS, CONNECTION.TCP_MS, CONNECTION.TLS_MS, CONNECTION.CONNECT_MS, CONNECTION.UPGRADE_MS]) {
      assert.equal(typeof connection.attributes[phase], 'number', phase);
    }
    const sum = [CONNECTION.DNS_MS, CONNECTION.TCP_MS, CONNECTION.TLS_MS].reduce((total, name) => total + (connection.attributes[name] as number), 0);
    assert.ok(Math.abs(sum - (connection.attributes[CONNECTION.CONNECT_MS] as number)) < 0.001, 'the phases add up to the connect time');
    assert.equal(telemetry.responses()[0].attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
  });

  it('reports the connect time and the bytes of a new HTTPS connection carrying SSE', async () => {
    // The Agent of the undici behind global fetch, whose diagnostics channels are observed.
    await fetch('data:,');
    const Agent = (globalThis as Record<symbol, { constructor: new (options: object) => { close(): Promise<void> } }>)[
      Symbol.for('undici.globalDispatcher.1')
    ].constructor;
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    const spansBefore = telemetry.responses().length;
    const request = JSON.stringify({ model: MOCK_MODEL, input: 'hi', stream: true });
    const response = await fetch(`https://localhost:${server.port}/v1/responses`, { method: 'POST', body: request, dispatcher } as RequestInit);
    const body = await response.text();
    await dispatcher.close();
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    const connection = await eventually(() =>
      telemetry.connections().find((c) => c.attributes[ATTR_CONNECTION_ID] === span.attributes[ATTR_CONNECTION_ID]),
    );
    assert.equal(connection.attributes[ATTR_TRANSPORT], TRANSPORT.SSE);
    assert.equal(typeof connection.attributes[CONNECTION.CONNECT_MS], 'number');
    // Inside the TLS records: the request and response with their HTTP heads and chunk framing.
    assert.ok((connection.attributes[CONNECTION.BYTES_RECEIVED] as number) > Buffer.byteLength(body), 'bytes received');
    assert.ok((connection.attributes[CONNECTION.BYTES_SENT] as number) > Buffer.byteLength(request), 'bytes sent');
  });
});
