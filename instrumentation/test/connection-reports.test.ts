import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import WebSocket from 'ws';
import { ATTR_CONNECTION_ID, ATTR_TRANSPORT, CONNECTION, TRANSPORT } from '../src/contract.ts';
import { MockModelServer, MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupSuite } from './utils/telemetry.ts';

const REPORT_INTERVAL_MS = 100;

describe('connections still open report themselves', () => {
  const suite = setupSuite({ connectionReportIntervalMs: REPORT_INTERVAL_MS });
  const { telemetry } = suite;
  const spansOf = (id: unknown) => telemetry.connections().filter((c) => c.attributes[ATTR_CONNECTION_ID] === id);

  /** A `ws` socket open on the mock after one Responses API response, and its connection id. */
  async function socketThatCarriedAResponse() {
    const responsesBefore = telemetry.responses().length;
    const ws = new WebSocket(`${suite.server.wsURL}/v1/responses`);
    await once(ws, 'open');
    const done = new Promise((resolve) => ws.on('message', (data) => String(data).includes('response.completed') && resolve(undefined)));
    ws.send(JSON.stringify({ type: 'response.create', model: MOCK_MODEL, input: 'hi' }));
    await done;
    const response = await eventually(() => telemetry.responses()[responsesBefore]);
    return { ws, id: response.attributes[ATTR_CONNECTION_ID] };
  }

  it('reports a persistent WebSocket while it is open, then once more when it closes', async () => {
    const { ws, id } = await socketThatCarriedAResponse();

    const reports = await eventually(() => spansOf(id).length >= 2 && spansOf(id));
    for (const report of reports) {
      assert.equal(report.attributes[CONNECTION.OPEN], true);
      assert.equal(report.attributes[CONNECTION.RESPONSES], 1);
      assert.equal(report.attributes[CONNECTION.CLOSE_CODE], undefined, 'no close code while open');
      assert.equal(typeof report.attributes[CONNECTION.UPGRADE_MS], 'number', 'the handshake is reported while open');
    }
    assert.equal(reports[0].startTime.join(), reports[1].startTime.join(), 'every report starts where the connection did');

    ws.close(1000);
    await once(ws, 'close');
    const closing = await eventually(() => spansOf(id).find((c) => c.attributes[CONNECTION.OPEN] === false));
    assert.equal(closing.attributes[CONNECTION.CLOSE_CODE], 1000);
    assert.equal(closing.attributes[ATTR_TRANSPORT], TRANSPORT.WEBSOCKET);
    const count = spansOf(id).length;
    await new Promise((resolve) => setTimeout(resolve, 3 * REPORT_INTERVAL_MS));
    assert.equal(spansOf(id).length, count, 'no report after the close');
  });

  it('reports a kept-alive HTTP connection while it waits in the pool', async () => {
    const responsesBefore = telemetry.responses().length;
    // A server of its own, so the response opens a new connection.
    const server = await new MockModelServer().listen();
    const client = new OpenAI({ apiKey: 'test', baseURL: `${server.httpURL}/v1`, maxRetries: 0 });
    const stream = await client.responses.create({ model: MOCK_MODEL, input: 'hi', stream: true });
    for await (const event of stream) void event;
    const response = await eventually(() => telemetry.responses()[responsesBefore]);
    const id = response.attributes[ATTR_CONNECTION_ID];
    const report = await eventually(() => spansOf(id)[0]);
    assert.equal(report.attributes[CONNECTION.OPEN], true);
    assert.equal(report.attributes[ATTR_TRANSPORT], TRANSPORT.SSE);
    assert.equal(report.attributes[CONNECTION.RESPONSES], 1);
    await server.close();
    await eventually(() => spansOf(id).some((c) => c.attributes[CONNECTION.OPEN] === false));
  });

  it('a connection that carried no model response reports nothing', async () => {
    const before = telemetry.connections().length;
    const ws = new WebSocket(`${suite.server.wsURL}/v1/responses`);
    await once(ws, 'open');
    await new Promise((resolve) => setTimeout(resolve, 3 * REPORT_INTERVAL_MS));
    ws.close();
    await once(ws, 'close');
    assert.equal(telemetry.connections().length, before);
  });

  it('with the interval at 0, reports a connection only when it closes', async () => {
    telemetry.instrumentation.setConfig({ connectionReportIntervalMs: 0 });
    try {
      const { ws, id } = await socketThatCarriedAResponse();
      await new Promise((resolve) => setTimeout(resolve, 3 * REPORT_INTERVAL_MS));
      assert.equal(spansOf(id).length, 0);
      ws.close(1000);
      const closing = await eventually(() => spansOf(id)[0]);
      assert.equal(closing.attributes[CONNECTION.OPEN], undefined);
    } finally {
      telemetry.instrumentation.setConfig({ connectionReportIntervalMs: REPORT_INTERVAL_MS });
    }
  });
});
