import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { ResponsesWS } from 'openai/resources/responses/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { API, ATTR_API, ATTR_CONNECTION_ID, ATTR_TRANSPORT, CONNECTION, GEN_AI, OUTCOME, RESPONSE, TRANSPORT } from '../src/contract.ts';
import { assertMatchesSchedule, recordedTokenTimes } from './utils/assert-timing.ts';
import { MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupSuite } from './utils/telemetry.ts';

describe('ws client', () => {
  const suite = setupSuite();
  const { telemetry } = suite;

  it('times chained responses on one socket of the official client WebSocket mode', async () => {
    const spansBefore = telemetry.responses().length;
    const sentBefore = suite.server.sent.length;
    const client = new OpenAI({ apiKey: 'test', baseURL: `${suite.server.httpURL}/v1` });
    const rws = new ResponsesWS(client);
    const completed: string[] = [];
    let previous: string | undefined;
    for (let turn = 0; turn < 2; turn++) {
      const done = new Promise<string>((resolve) =>
        rws.on('event', (event: { type: string; response?: { id: string } }) => {
          if (event.type === 'response.completed' && event.response && !completed.includes(event.response.id)) resolve(event.response.id);
        }),
      );
      rws.send({ type: 'response.create', model: MOCK_MODEL, input: `turn ${turn}`, previous_response_id: previous } as never);
      previous = await done;
      completed.push(previous);
    }
    rws.close();

    const connection = await eventually(() => telemetry.connections().at(-1));
    const spans = telemetry.responses().slice(spansBefore);
    assert.equal(spans.length, 2);
    spans.forEach((span, i) => {
      assert.equal(span.attributes[ATTR_API], API.OPENAI_RESPONSES);
      assert.equal(span.attributes[ATTR_TRANSPORT], TRANSPORT.WEBSOCKET);
      assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
      assert.equal(span.attributes[GEN_AI.RESPONSE_ID], completed[i]);
      assert.equal(span.attributes[RESPONSE.CONNECTION_REUSED], i > 0);
      assert.equal(span.attributes[ATTR_CONNECTION_ID], connection.attributes[ATTR_CONNECTION_ID]);
      assertMatchesSchedule(span, suite.server.sent[sentBefore + i], suite.server.scheduleFor(sentBefore + i));
    });
    assert.equal(connection.attributes[CONNECTION.RESPONSES], 2);
    assert.equal(connection.attributes[CONNECTION.CLOSE_CODE], 1000);
    assert.equal(connection.attributes[CONNECTION.FRAMES_SENT], 2);
    for (const phase of [CONNECTION.TCP_MS, CONNECTION.CONNECT_MS, CONNECTION.UPGRADE_MS]) {
      assert.equal(typeof connection.attributes[phase], 'number', phase);
    }
  });

  it('tells multiplexed Realtime responses apart by response id', async () => {
    const spansBefore = telemetry.responses().length;
    const sentBefore = suite.server.sent.length;
    const ws = new WebSocket(`${suite.server.wsURL}/v1/realtime`);
    await once(ws, 'open');
    let finished = 0;
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        if (String(data).includes('"response.done"') && ++finished === 2) resolve();
      }),
    );
    ws.send(JSON.stringify({ type: 'response.create', response: { model: MOCK_MODEL } }));
    ws.send(JSON.stringify({ type: 'response.create', response: { model: MOCK_MODEL } }));
    await done;
    ws.close();
    await eventually(() => telemetry.connections().length > 1);
    const spans = telemetry.responses().slice(spansBefore);
    assert.equal(spans.length, 2);
    for (const [i, sent] of suite.server.sent.slice(sentBefore).entries()) {
      const span = spans.find((s) => s.attributes[GEN_AI.RESPONSE_ID] === sent.id);
      assert.ok(span, `a span for ${sent.id}`);
      assert.equal(span.attributes[ATTR_API], API.OPENAI_REALTIME);
      assertMatchesSchedule(span, sent, suite.server.scheduleFor(sentBefore + i));
    }
  });

  it('times frames read together by their arrival, not by how long the application took with the earlier ones', async () => {
    const spansBefore = telemetry.responses().length;
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    server.on('connection', (peer) => {
      peer.on('message', () => {
        const id = 'resp_together';
        const event = (type: string, rest: object) => JSON.stringify({ type, ...rest });
        peer.send(event('response.created', { response: { id, model: MOCK_MODEL } }));
        // Corked, the two deltas leave in one write and the client reads them in one go.
        const socket = (peer as unknown as { _socket: import('node:net').Socket })._socket;
        socket.cork();
        peer.send(event('response.output_text.delta', { item_id: 'msg', delta: 'a' }));
        peer.send(event('response.output_text.delta', { item_id: 'msg', delta: 'b' }));
        socket.uncork();
        setTimeout(() => peer.send(event('response.completed', { response: { id, model: MOCK_MODEL, usage: null } })), 20);
      });
    });
    const { port } = server.address() as import('node:net').AddressInfo;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/responses`);
    await once(ws, 'open');
    const slowListenerMs = 40;
    let deltas = 0;
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const text = String(data);
        if (text.includes('output_text.delta') && ++deltas === 1) {
          const until = performance.now() + slowListenerMs;
          while (performance.now() < until);
        }
        if (text.includes('response.completed')) resolve();
      }),
    );
    ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
    await done;
    ws.close();
    server.close();
    const span = await eventually(() => telemetry.responses().slice(spansBefore).at(0));
    const [first, second] = recordedTokenTimes(span);
    assert.equal(span.attributes[RESPONSE.OUTPUT_CHUNKS], 2);
    assert.ok(second - first < slowListenerMs / 4, `second token recorded ${(second - first).toFixed(3)} ms after the first`);
  });
});

