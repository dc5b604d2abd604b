import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { generate } from 'selfsigned';
import WebSocket from 'ws';
import { CONNECTION, OUTCOME, RESPONSE } from '../src/contract.ts';
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
});
