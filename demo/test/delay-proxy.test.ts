import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { createDelayProxy, type DelayProxy } from '../delay-proxy/delay-proxy.ts';
import { createMockModelServer, type MockModelServer } from '../mock-server/mock-model-server.ts';
import { streamOverSse } from '../load-generator/sse-stream.ts';
import { openResponsesSocket, streamOverWebSocket } from '../load-generator/websocket-stream.ts';

const RTT_MS = 100;

/**
 * The proxy can never be faster than its delay (bar timers' whole-millisecond rounding), so
 * the lower bound is tight; a busy machine only ever adds time, so the upper one is generous.
 */
function assertAbout(actual: number, expected: number, what: string): void {
  assert.ok(actual >= expected - 5 && actual <= expected + 150, `${what}: ${actual.toFixed(1)} ms, expected ≈ ${expected} ms`);
}

function startEchoServer(): Promise<Server> {
  const server = createServer((socket) => socket.pipe(socket));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function readBytes(socket: Socket, count: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= count) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });
}

/** Connects, sends one message and waits for its echo; returns the time for each exchange. */
async function timeExchanges(port: number, exchanges: number): Promise<number[]> {
  const startedAt = performance.now();
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const times: number[] = [];
  let from = startedAt;
  for (let i = 0; i < exchanges; i++) {
    socket.write('ping');
    await readBytes(socket, 4);
    const now = performance.now();
    times.push(now - from);
    from = now;
  }
  socket.destroy();
  return times;
}

describe('delay proxy over raw TCP', () => {
  let echo: Server;
  let proxy: DelayProxy;

  before(async () => {
    echo = await startEchoServer();
    proxy = await createDelayProxy({ target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port }, rttMs: RTT_MS });
  });
  after(async () => {
    await proxy.close();
    echo.close();
  });

  test('a connect plus one echo costs two round trips; each further echo one', async () => {
    const direct = await timeExchanges((echo.address() as AddressInfo).port, 2);
    const proxied = await timeExchanges(proxy.port, 2);
    // Direct exchanges take about a millisecond, well inside the band: the proxy adds the round trips.
    assertAbout(proxied[0], 2 * RTT_MS, `connect + first echo (direct ${direct[0].toFixed(1)} ms)`);
    assertAbout(proxied[1], RTT_MS, `second echo (direct ${direct[1].toFixed(1)} ms)`);
  });

  test('many small chunks arrive complete and in order', async () => {
    const socket = connect({ port: proxy.port, host: '127.0.0.1', noDelay: true });
    await new Promise((resolve) => socket.once('connect', resolve));
    const sent = Buffer.from(Array.from({ length: 3000 }, (_, i) => `${i},`).join(''));
    const received = readBytes(socket, sent.length);
    // Spread writes over several event-loop turns so chunks reach the proxy at different times.
    for (let offset = 0; offset < sent.length; offset += 7) {
      socket.write(sent.subarray(offset, offset + 7));
      if (offset % 700 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await received).toString(), sent.toString());
    socket.destroy();
  });

  test('a half-close is forwarded after the data before it', async () => {
    const socket = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
    const received = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
    });
    socket.end('last words');
    assert.equal(await received, 'last words');
    socket.destroy();
  });
});

describe('delay proxy in front of the mock model server', () => {
  let mock: MockModelServer;
  let proxy: DelayProxy;
  let client: OpenAI;
  const TTFT_MS = 50;

  before(async () => {
    mock = await createMockModelServer({ schedule: { ttftMs: { kind: 'constant', value: TTFT_MS }, outputTokens: { kind: 'constant', value: 3 } } });
    proxy = await createDelayProxy({ target: { host: '127.0.0.1', port: mock.port }, rttMs: RTT_MS });
    client = new OpenAI({ baseURL: `http://127.0.0.1:${proxy.port}/v1`, apiKey: 'test', maxRetries: 0 });
    // Load the client's lazily imported code outside the timed requests.
    await streamOverSse(new OpenAI({ baseURL: mock.url, apiKey: 'test', maxRetries: 0 }), { model: 'm', input: 'warm' });
  });
  after(async () => {
    await proxy.close();
    await mock.close();
  });

  const ttft = (timing: { tokenArrivals: number[]; sentAt: number }) => timing.tokenArrivals[0] - timing.sentAt;

  test('SSE on a new connection pays TCP + request round trips; on a kept-alive one, the request only', async () => {
    assertAbout(ttft(await streamOverSse(client, { model: 'm', input: 'x' })), TTFT_MS + 2 * RTT_MS, 'TTFT on a new connection');
    assertAbout(ttft(await streamOverSse(client, { model: 'm', input: 'x' })), TTFT_MS + RTT_MS, 'TTFT on a reused connection');
  });

  test('a WebSocket pays TCP + upgrade once, then one round trip per response', async () => {
    const startedAt = performance.now();
    const socket = await openResponsesSocket(client);
    assertAbout(performance.now() - startedAt, 2 * RTT_MS, 'WebSocket open');
    try {
      assertAbout(ttft(await streamOverWebSocket(socket, { model: 'm', input: 'x' })), TTFT_MS + RTT_MS, 'TTFT on the open socket');
    } finally {
      socket.close();
    }
  });
});
