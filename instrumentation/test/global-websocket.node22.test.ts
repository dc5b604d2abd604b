import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API, ATTR_API, ATTR_CONNECTION_ID, ATTR_TRANSPORT, CONNECTION, OUTCOME, RESPONSE, TRANSPORT } from '../src/contract.ts';
import { assertMatchesSchedule } from './utils/assert-timing.ts';
import { MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupSuite } from './utils/telemetry.ts';

describe('global WebSocket (Node ≥ 22)', () => {
  const OriginalWebSocket = globalThis.WebSocket;
  const suite = setupSuite();
  const { telemetry } = suite;

  it('replaces the global WebSocket with a subclass while enabled', () => {
    assert.notEqual(globalThis.WebSocket, OriginalWebSocket);
    assert.equal(globalThis.WebSocket.name, 'WebSocket');
    assert.ok(new globalThis.WebSocket(`${suite.server.wsURL}/v1/responses`) instanceof OriginalWebSocket);
  });

  it('times a Responses stream before the application listeners see it', async () => {
    const spansBefore = telemetry.responses().length;
    const sentBefore = suite.server.sent.length;
    const ws = new WebSocket(`${suite.server.wsURL}/v1/responses`);
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (event) => {
        received.push(event.data as string);
        if (String(event.data).includes('response.completed')) resolve();
      };
    });
    ws.onopen = () => ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL }));
    await done;
    ws.close(1000);
    const span = await eventually(() => telemetry.responses()[spansBefore]);
    assert.equal(span.attributes[ATTR_API], API.OPENAI_RESPONSES);
    assert.equal(span.attributes[ATTR_TRANSPORT], TRANSPORT.WEBSOCKET);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assertMatchesSchedule(span, suite.server.sent[sentBefore], suite.server.scheduleFor(sentBefore));
    assert.ok(received.every((frame) => JSON.parse(frame)), 'frames reach the application intact');
    const connection = await eventually(() =>
      telemetry.connections().find((c) => c.attributes[ATTR_CONNECTION_ID] === span.attributes[ATTR_CONNECTION_ID]),
    );
    assert.equal(connection.attributes[CONNECTION.CLOSE_CODE], 1000);
    assert.equal(typeof connection.attributes[CONNECTION.CONNECT_MS], 'number');
  });

  it('restores the original global on disable', () => {
    telemetry.instrumentation.disable();
    assert.equal(globalThis.WebSocket, OriginalWebSocket);
  });
});
