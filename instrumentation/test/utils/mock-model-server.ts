/*
 * A local model server for tests and benchmarks: streams a seeded, known token schedule as
 * the OpenAI Responses API (WebSocket and SSE), the Realtime API (WebSocket), Chat
 * Completions SSE and Anthropic Messages SSE. It records when each token actually left,
 * so timing assertions compare against what was sent rather than against timer accuracy.
 */
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface TokenSchedule {
  /** Delay from the request arriving to the first token, ms. */
  ttftMs: number;
  /** Delay before each later token, ms. */
  gapsMs: number[];
  tokens: string[];
}

/** What the server actually did for one response, performance.now() values. */
export interface SentResponse {
  id: string;
  api: string;
  receivedAt: number;
  tokenSentAt: number[];
}

/** mulberry32: small, seeded, good enough to spread delays. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeSchedule(seed: number, tokens = 8, ttftRangeMs: [number, number] = [40, 80], gapRangeMs: [number, number] = [10, 40]): TokenSchedule {
  const random = seededRandom(seed);
  const between = ([low, high]: [number, number]) => Math.round(low + random() * (high - low));
  return {
    ttftMs: between(ttftRangeMs),
    gapsMs: Array.from({ length: tokens - 1 }, () => between(gapRangeMs)),
    tokens: Array.from({ length: tokens }, (_, i) => `tok${i} `),
  };
}

export const MOCK_MODEL = 'mock-model-1';

type Send = (event: Record<string, unknown>, name?: string) => void;

interface ProtocolScript {
  /** Events before the first token. */
  start(id: string): Record<string, unknown>[];
  delta(id: string, token: string): Record<string, unknown>;
  end(id: string, outputTokens: number): Record<string, unknown>[];
}

const responsesScript: ProtocolScript = {
  start: (id) => [
    { type: 'response.created', response: { id, object: 'response', status: 'in_progress', model: MOCK_MODEL, output: [], usage: null } },
    { type: 'response.in_progress', response: { id, object: 'response', status: 'in_progress', model: MOCK_MODEL, output: [], usage: null } },
    { type: 'response.output_item.added', output_index: 0, item: { id: `msg_${id}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] } },
    { type: 'response.content_part.added', item_id: `msg_${id}`, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } },
  ],
  delta: (id, token) => ({ type: 'response.output_text.delta', item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: token, logprobs: [] }),
  end: (id, outputTokens) => [
    { type: 'response.output_text.done', item_id: `msg_${id}`, output_index: 0, content_index: 0, text: '', logprobs: [] },
    {
      type: 'response.completed',
      response: { id, object: 'response', status: 'completed', model: MOCK_MODEL, output: [], usage: { input_tokens: 5, output_tokens: outputTokens, total_tokens: 5 + outputTokens } },
    },
  ],
};

const realtimeScript: ProtocolScript = {
  start: (id) => [
    { type: 'response.created', event_id: `ev_${id}_0`, response: { id, object: 'realtime.response', status: 'in_progress', output: [] } },
    { type: 'response.output_item.added', event_id: `ev_${id}_1`, response_id: id, output_index: 0, item: { id: `item_${id}`, type: 'message', role: 'assistant' } },
  ],
  delta: (id, token) => ({ type: 'response.output_text.delta', event_id: `ev_${id}_d`, response_id: id, item_id: `item_${id}`, output_index: 0, content_index: 0, delta: token }),
  end: (id, outputTokens) => [
    { type: 'response.done', event_id: `ev_${id}_9`, response: { id, object: 'realtime.response', status: 'completed', usage: { input_tokens: 5, output_tokens: outputTokens } } },
  ],
};

const chatScript: ProtocolScript = {
  start: (id) => [chatChunk(id, { role: 'assistant', content: '' }, null)],
  delta: (id, token) => chatChunk(id, { content: token }, null),
  end: (id, outputTokens) => [
    chatChunk(id, {}, 'stop'),
    { id, object: 'chat.completion.chunk', created: 1, model: MOCK_MODEL, choices: [], usage: { prompt_tokens: 5, completion_tokens: outputTokens, total_tokens: 5 + outputTokens } },
  ],
};

function chatChunk(id: string, delta: Record<string, unknown>, finishReason: string | null): Record<string, unknown> {
  return { id, object: 'chat.completion.chunk', created: 1, model: MOCK_MODEL, choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

const anthropicScript: ProtocolScript = {
  start: (id) => [
    { type: 'message_start', message: { id, type: 'message', role: 'assistant', content: [], model: MOCK_MODEL, stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
  ],
  delta: (_id, token) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: token } }),
  end: (_id, outputTokens) => [
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: outputTokens } },
    { type: 'message_stop' },
  ],
};

const SCRIPTS: Record<string, ProtocolScript> = {
  '/v1/responses': responsesScript,
  '/v1/realtime': realtimeScript,
  '/v1/chat/completions': chatScript,
  '/v1/messages': anthropicScript,
};

/** Which events SSE names with an `event:` line (Chat Completions uses none). */
const NAMED_SSE_EVENTS = new Set(['/v1/responses', '/v1/messages']);

export interface MockModelServerOptions {
  /** Schedule for the n-th response this server starts. */
  schedule?: (index: number) => TokenSchedule;
  /** Serve https/wss with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

export class MockModelServer {
  readonly sent: SentResponse[] = [];
  readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private responses = 0;
  /** Test hooks: what a WebSocket client gets instead of the script, when set. */
  onWebSocketMessage: ((socket: WebSocket, text: string) => boolean) | undefined;
  onHttpRequest: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;

  constructor(private readonly options: MockModelServerOptions = {}) {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    this.server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
    this.server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      // Without it Nagle holds each small SSE write until the client's delayed ACK: tens of ms.
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onWebSocket(ws, new URL(req.url ?? '/', 'http://x').pathname));
    });
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get httpURL(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get wsURL(): string {
    return `${this.options.tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}`;
  }

  scheduleFor(index: number): TokenSchedule {
    return this.options.schedule?.(index) ?? makeSchedule(index + 1);
  }

  /** Drops every connection at once, as a crashing server would. */
  kill(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    for (const client of this.wss.clients) client.terminate();
  }

  async close(): Promise<void> {
    this.kill();
    this.wss.close();
    this.server.close();
    await once(this.server, 'close');
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = performance.now();
    if (this.onHttpRequest?.(req, res)) return;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const script = SCRIPTS[path];
    if (!script) {
      res.writeHead(404).end();
      return;
    }
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const named = NAMED_SSE_EVENTS.has(path);
      const send: Send = (event) => {
        res.write(`${named ? `event: ${String(event.type)}\n` : ''}data: ${JSON.stringify(event)}\n\n`);
      };
      this.play(path, script, send, receivedAt, () => {
        if (path === '/v1/chat/completions') res.write('data: [DONE]\n\n');
        res.end();
      });
    });
  }

  private onWebSocket(ws: WebSocket, path: string): void {
    const script = SCRIPTS[path] ?? responsesScript;
    if (path === '/v1/realtime') ws.send(JSON.stringify({ type: 'session.created', session: { id: 'sess_1', model: MOCK_MODEL } }));
    ws.on('message', (data: Buffer) => {
      const receivedAt = performance.now();
      const text = data.toString();
      if (this.onWebSocketMessage?.(ws, text)) return;
      if (!text.includes('"response.create"')) return;
      const send: Send = (event) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(event));
      };
      this.play(path, script, send, receivedAt, () => undefined);
    });
  }

  /** Streams one response on the injected schedule; each token's delay counts from the request. */
  private play(api: string, script: ProtocolScript, send: Send, receivedAt: number, done: () => void): void {
    const index = this.responses++;
    const schedule = this.scheduleFor(index);
    const id = `resp_${index}`;
    const record: SentResponse = { id, api, receivedAt, tokenSentAt: [] };
    this.sent.push(record);
    for (const event of script.start(id)) send(event);
    let due = schedule.ttftMs;
    const next = (i: number): void => {
      // Absolute deadlines: a late timer does not push every later token back.
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        send(script.delta(id, schedule.tokens[i]));
        record.tokenSentAt.push(performance.now());
        if (i + 1 < schedule.tokens.length) {
          due += schedule.gapsMs[i];
          next(i + 1);
        } else {
          for (const event of script.end(id, schedule.tokens.length)) send(event);
          done();
        }
      }, Math.max(0, receivedAt + due - performance.now()));
      this.timers.add(timer);
    };
    next(0);
  }
}
