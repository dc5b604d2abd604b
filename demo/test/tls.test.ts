import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { createDelayProxy, type DelayProxy } from '../delay-proxy/delay-proxy.ts';
import { bundledUndiciAgent } from '../load-generator/bundled-undici-agent.ts';
import { runLoad } from '../load-generator/run-load.ts';
import { streamOverSse } from '../load-generator/sse-stream.ts';
import { openResponsesSocket, streamOverWebSocket } from '../load-generator/websocket-stream.ts';
import { createMockModelServer, type MockModelServer } from '../mock-server/mock-model-server.ts';

const request = { model: 'mock-tls', input: 'Over TLS.' };
const RTT_MS = 100;

describe('mock model server over TLS', () => {
  let server: MockModelServer;
  let proxy: DelayProxy;

  /** An official client whose fetch trusts what `connect` says, through its own undici pool. */
  async function clientWith(connect: { ca?: string; rejectUnauthorized?: boolean }, baseURL = server.url) {
    const Agent = await bundledUndiciAgent();
    return new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0, fetchOptions: { dispatcher: new Agent({ connect }) } });
  }

  before(async () => {
    server = await createMockModelServer({ tls: true, schedule: { outputTokens: { kind: 'constant', value: 4 } } });
    proxy = await createDelayProxy({ target: { host: '127.0.0.1', port: server.port }, rttMs: RTT_MS });
  });
  after(async () => {
    await proxy.close();
    await server.close();
  });

  test('serves https and wss with a certificate generated at start', () => {
    assert.match(server.url, /^https:\/\//);
    assert.match(server.wsUrl, /^wss:\/\//);
    assert.match(server.ca ?? '', /BEGIN CERTIFICATE/);
  });

  const trustOptions: [string, () => { ca?: string; rejectUnauthorized?: boolean }][] = [
    ['the generated CA', () => ({ ca: server.ca! })],
    ['rejectUnauthorized: false', () => ({ rejectUnauthorized: false })],
  ];
  for (const [name, trust] of trustOptions) {
    test(`the official client streams over SSE and WebSocket trusting ${name}`, async () => {
      const options = trust();
      const client = await clientWith(options);
      const sse = await streamOverSse(client, request);
      assert.equal(sse.error, null);
      assert.equal(sse.tokenArrivals.length, 4);
      const socket = await openResponsesSocket(client, options);
      try {
        const ws = await streamOverWebSocket(socket, request);
        assert.equal(ws.error, null);
        assert.equal(ws.tokenArrivals.length, 4);
      } finally {
        socket.close();
      }
    });
  }

  test('a client that does not trust the certificate is refused', async () => {
    const client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
    assert.notEqual((await streamOverSse(client, request)).error, null);
    await assert.rejects(openResponsesSocket(client));
  });

  test('through the delay proxy, opening a wss socket costs TCP + TLS + upgrade round trips', async () => {
    // TLS 1.3 needs one round trip, so three in all. The same open straight to the server,
    // just before, is the handshake's own CPU time, which a busy machine stretches.
    const timeOpen = async (baseURL: string) => {
      const client = await clientWith({ ca: server.ca! }, baseURL);
      const startedAt = performance.now();
      const socket = await openResponsesSocket(client, { ca: server.ca! });
      const ms = performance.now() - startedAt;
      socket.close();
      return ms;
    };
    const directMs = await timeOpen(server.url);
    const proxiedMs = await timeOpen(`https://127.0.0.1:${proxy.port}/v1`);
    const addedMs = proxiedMs - directMs;
    assert.ok(addedMs >= 3 * RTT_MS - 15 && addedMs <= 3 * RTT_MS + 120, `opened in ${proxiedMs.toFixed(1)} ms, ${directMs.toFixed(1)} ms without the proxy`);
  });

  test('the load generator runs over TLS on both transports', async () => {
    const summary = await runLoad({ baseURL: server.url, ca: server.ca!, transport: 'both', virtualUsers: 2, targetRate: 4, durationMs: 1000, quiet: true });
    for (const figures of Object.values(summary.transports)) {
      assert.equal(figures.errors, 0, JSON.stringify(figures.errorReasons));
      assert.ok(figures.count >= 3);
    }
  });
});
