import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { chatCompletionBody, createChatCompletionsEncoder, newChatCompletionId, type ChatCompletionsRequest } from './chat-completions-chunks.ts';
import { playSchedule, type StreamEncoder } from './playback.ts';
import { createResponsesEncoder, newResponseId, type ResponsesEvent, type ResponsesRequest } from './responses-events.ts';
import type { ScheduleRegistry } from './schedule-registry.ts';
import { INJECTED_FAILURE_MESSAGE, type TokenSchedule } from './schedule.ts';

export const SCHEDULE_SEED_HEADER = 'x-mock-schedule-seed';
export const RESPONSE_ID_HEADER = 'x-mock-response-id';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { error: { message, type, code: type, param: null } });
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown> | null> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Aborts when the client goes away, so an abandoned stream stops its timers. */
function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  return controller.signal;
}

/** Plays a schedule as an SSE stream; `makeEncoder` turns protocol payloads into SSE text. */
async function streamEvents(
  res: ServerResponse,
  id: string,
  schedule: TokenSchedule,
  startedAt: number,
  signal: AbortSignal,
  makeEncoder: (write: (sseText: string) => void) => StreamEncoder,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    [SCHEDULE_SEED_HEADER]: String(schedule.seed),
    [RESPONSE_ID_HEADER]: id,
  });
  // Headers go out with the first event otherwise, which would hide time-to-first-byte.
  res.flushHeaders();
  await playSchedule(schedule, startedAt, makeEncoder((sseText) => res.write(sseText)), signal);
  res.end();
}

const SILENT: StreamEncoder = { open() {}, token() {}, fail() {}, complete() {} };

/** What differs between the HTTP endpoints; timing, SSE framing and failures are shared. */
interface Endpoint<Request> {
  newId(): string;
  sseEncoder(id: string, body: Request, schedule: TokenSchedule, write: (sseText: string) => void): StreamEncoder;
  /** The answer to a non-stream request whose schedule completed. */
  jsonBody(id: string, body: Request, schedule: TokenSchedule): unknown;
}

const RESPONSES: Endpoint<ResponsesRequest> = {
  newId: newResponseId,
  sseEncoder: (id, body, schedule, write) =>
    createResponsesEncoder(id, body, schedule, (event) => write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)),
  jsonBody: (id, body, schedule) => {
    // Replaying the stream instantly yields exactly the response its last event would carry.
    let last: ResponsesEvent | undefined;
    const encoder = createResponsesEncoder(id, body, schedule, (event) => { last = event; });
    encoder.open();
    schedule.tokens.forEach((text, index) => encoder.token(index, text));
    encoder.complete();
    return last?.response;
  },
};

const CHAT_COMPLETIONS: Endpoint<ChatCompletionsRequest> = {
  newId: newChatCompletionId,
  sseEncoder: (id, body, schedule, write) =>
    createChatCompletionsEncoder(id, body, schedule, (chunk) => write(chunk === null ? 'data: [DONE]\n\n' : `data: ${JSON.stringify(chunk)}\n\n`)),
  jsonBody: chatCompletionBody,
};

async function serveEndpoint<Request extends { stream?: unknown }>(
  endpoint: Endpoint<Request>,
  body: Request,
  res: ServerResponse,
  registry: ScheduleRegistry,
  startedAt: number,
): Promise<void> {
  const id = endpoint.newId();
  const schedule = registry.assign(id);
  const signal = abortOnClose(res);
  if (body.stream === true) {
    return streamEvents(res, id, schedule, startedAt, signal, (write) => endpoint.sseEncoder(id, body, schedule, write));
  }
  // A non-stream answer arrives when the stream would have ended.
  await playSchedule(schedule, startedAt, SILENT, signal);
  if (signal.aborted) return;
  if (schedule.failAfterTokens !== null) sendError(res, 500, 'server_error', INJECTED_FAILURE_MESSAGE);
  else sendJson(res, 200, endpoint.jsonBody(id, body, schedule));
}

const ROUTES: Record<string, Endpoint<Record<string, unknown>>> = {
  '/v1/responses': RESPONSES,
  '/v1/chat/completions': CHAT_COMPLETIONS,
};

/** Routes the HTTP side of the mock: Responses (SSE or JSON) and Chat Completions (SSE or JSON). */
export function createHttpHandler(registry: ScheduleRegistry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    // Timing starts at arrival, before the body is read, matching how a real server's TTFT begins.
    const startedAt = performance.now();
    const path = new URL(req.url ?? '/', 'http://mock').pathname;
    const endpoint = Object.hasOwn(ROUTES, path) ? ROUTES[path] : null;
    if (!endpoint || req.method !== 'POST') {
      req.resume();
      sendError(res, 404, 'not_found', `No route for ${req.method} ${path}.`);
      return;
    }
    readJsonBody(req)
      .then((body) => (body ? serveEndpoint(endpoint, body, res, registry, startedAt) : sendError(res, 400, 'invalid_request_error', 'Body must be a JSON object.')))
      .catch((error: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'server_error', String(error));
        else res.destroy();
      });
  };
}
