import diagnosticsChannel from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { context, type Context } from '@opentelemetry/api';
import { arrivalTime } from '../arrival-clock.ts';
import { ConnectionTracker } from '../connection-tracker.ts';
import { API, OUTCOME, TRANSPORT, type Outcome } from '../contract.ts';
import type { ProtocolParser, Recorder, RequestInfo } from '../internal-types.ts';
import { parserForPath } from '../parsers/select.ts';
import { safely } from '../safely.ts';
import { SseResponseObserver } from '../sse/sse-response.ts';
import { ResponseTracker } from '../stream-tracker.ts';

/** One fetch call, found again from undici's request object through diagnostics_channel. */
interface FetchCall {
  /** origin + path + query, as undici's request names them. */
  readonly target: string;
  readonly calledAt: number;
  readonly parentContext: Context;
  sentAt: number;
  connection?: ConnectionTracker;
  reused: boolean;
  /** undici's request for it was seen. */
  claimed: boolean;
  /** Its response body is observed as undici parses it (ObservedHandler), not re-wrapped. */
  observed: boolean;
}

interface UndiciRequest {
  origin?: string;
  path?: string;
}

/** Bytes the wrapper reads ahead of the application, so chunks are timed as they arrive. */
const READ_AHEAD_BYTES = 64 * 1024;

/**
 * The source of the body handed to the application. It reads the original body as fast as
 * bytes arrive, whether or not the application is reading, timestamps and observes each
 * chunk, and enqueues that same chunk; it pauses once READ_AHEAD_BYTES wait unread and
 * resumes when the application has drained them. Reads chain through two callbacks made
 * once per body, so a chunk costs one read promise and no closure, and the stream is kept
 * from calling `pull` while reading goes on (see pull).
 */
class ObservedBody implements UnderlyingDefaultSource<Uint8Array> {
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private reading = false;
  private finished = false;
  /** Settles the promise the last `pull` returned; set while that promise is pending. */
  private pullDone: (() => void) | undefined;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly observer: SseResponseObserver,
    private readonly recorder: Recorder,
  ) {}

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
    this.read();
  }

  /**
   * Called when the application waits on an empty queue (high-water mark 0). The promise
   * stays pending until reading pauses or ends: the stream calls `pull` again only after
   * it settles, so in between no chunk pays for a pull call and its promises.
   */
  pull(): Promise<void> | undefined {
    if (this.finished) return undefined;
    if (!this.reading) this.read();
    return new Promise((resolve) => {
      this.pullDone = resolve;
    });
  }

  cancel(reason: unknown): Promise<void> {
    this.finished = true;
    this.settlePull();
    safely(this.recorder, 'SSE cancel observation', () => this.observer.finish('abort', performance.now()));
    return this.reader.cancel(reason);
  }

  private read(): void {
    this.reading = true;
    this.reader.read().then(this.onRead, this.onError);
  }

  /** Lets the stream call `pull` again: reading paused or ended. */
  private settlePull(): void {
    this.pullDone?.();
    this.pullDone = undefined;
  }

  private readonly onRead = (result: ReadableStreamReadResult<Uint8Array>): void => {
    const at = arrivalTime();
    this.reading = false;
    // Cancelled by the application meanwhile: the stream is closed to us.
    if (this.finished) return;
    const controller = this.controller as ReadableStreamDefaultController<Uint8Array>;
    if (result.done) {
      this.finished = true;
      this.settlePull();
      safely(this.recorder, 'SSE end observation', () => this.observer.finish('end', at));
      controller.close();
      return;
    }
    // Inline rather than through safely(): that would cost a closure per chunk.
    try {
      this.observer.onChunk(result.value, at);
    } catch (error) {
      this.recorder.diag.error('SSE chunk observation failed', error);
    }
    controller.enqueue(result.value);
    // desiredSize is minus the bytes queued and unread (high-water mark 0).
    if ((controller.desiredSize ?? 0) > -READ_AHEAD_BYTES) this.read();
    else this.settlePull();
  };

  private readonly onError = (error: unknown): void => {
    this.reading = false;
    if (this.finished) return;
    this.finished = true;
    this.settlePull();
    safely(this.recorder, 'SSE end observation', () => this.observer.finish('error', performance.now(), error));
    this.controller?.error(error);
  };
}

/** undici's key for the process-wide dispatcher, shared by every copy of undici (Node's own and npm's). */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/** What undici's fetch asks of the dispatcher it is given (`init.dispatcher`). */
interface Dispatcher {
  dispatch(options: object, handler: DispatchHandler): boolean;
  readonly isMockActive?: boolean;
}

/** The callbacks of undici's dispatcher API, as its fetch passes them to `dispatch`. */
interface DispatchHandler {
  onConnect(abort: (reason?: unknown) => void, context?: unknown): void;
  onResponseStarted?(): void;
  onHeaders(statusCode: number, headers: unknown, resume: () => void, statusText: string): boolean;
  onData(chunk: Uint8Array): boolean;
  onComplete(trailers: unknown): void;
  onError(error: unknown): void;
  onUpgrade?(statusCode: number, headers: unknown, socket: unknown): void;
  onBodySent?(...args: unknown[]): void;
  onRequestSent?(): void;
}

/** Decides from a response's status and headers whether to observe its body, and with what. */
type ObserveResponse = (statusCode: number, headers: unknown) => SseResponseObserver | undefined;

/** Statuses whose response has no body, whatever its headers say (fetch's null body statuses). */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/**
 * A handler of the callback style this file wraps (`onHeaders`, `onData`, …). One of undici's
 * newer style (`onResponseStart`, `onResponseData`, …) is passed through untouched, and its
 * body is then observed after fetch returns.
 */
function isCallbackHandler(handler: object): handler is DispatchHandler {
  const h = handler as Partial<DispatchHandler> & { onResponseStart?: unknown };
  return (
    typeof h.onConnect === 'function' &&
    typeof h.onHeaders === 'function' &&
    typeof h.onData === 'function' &&
    typeof h.onComplete === 'function' &&
    typeof h.onError === 'function' &&
    h.onResponseStart === undefined
  );
}

/** A response header from undici's raw headers: `[name, value, …]` Buffers over HTTP/1.1, an object over HTTP/2. */
function headerValue(headers: unknown, name: string): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
    }
    return undefined;
  }
  const value = (headers as Record<string, unknown> | null)?.[name];
  return value === undefined ? undefined : String(value);
}

/**
 * Sits between undici and fetch's own handler for one request. Each body chunk is timed and
 * observed the moment undici parses it off the socket — before it enters the body stream,
 * whether or not the application is reading — and handed on unchanged, so observing costs
 * no stream and no promise per chunk, and backpressure stays undici's.
 */
class ObservedHandler implements DispatchHandler {
  private observer: SseResponseObserver | undefined;
  /**
   * fetch told undici to stop: the application cancelled the body or aborted the call.
   * fetch then forwards the application's reason, which cannot be told from a network error.
   */
  private abortRequested = false;

  constructor(
    private readonly handler: DispatchHandler,
    private readonly observe: ObserveResponse,
    private readonly recorder: Recorder,
  ) {}

  onConnect(abort: (reason?: unknown) => void, context?: unknown): void {
    this.handler.onConnect((reason) => {
      this.abortRequested = true;
      abort(reason);
    }, context);
  }

  onResponseStarted(): void {
    this.handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: unknown, resume: () => void, statusText: string): boolean {
    // Below 200: an informational response; the real one follows.
    if (statusCode >= 200) {
      safely(this.recorder, 'fetch response observation', () => {
        this.observer = this.observe(statusCode, headers);
      });
    }
    return this.handler.onHeaders(statusCode, headers, resume, statusText);
  }

  onData(chunk: Uint8Array): boolean {
    const observer = this.observer;
    if (observer !== undefined) {
      // Inline rather than through safely(): that would cost a closure per chunk.
      try {
        observer.onChunk(chunk, arrivalTime());
      } catch (error) {
        this.recorder.diag.error('SSE chunk observation failed', error);
      }
    }
    return this.handler.onData(chunk);
  }

  onComplete(trailers: unknown): void {
    this.finish('end');
    this.handler.onComplete(trailers);
  }

  onError(error: unknown): void {
    this.finish(this.abortRequested ? 'abort' : 'error', error);
    this.handler.onError(error);
  }

  onUpgrade(statusCode: number, headers: unknown, socket: unknown): void {
    this.handler.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(...args: unknown[]): void {
    this.handler.onBodySent?.(...args);
  }

  onRequestSent(): void {
    this.handler.onRequestSent?.();
  }

  private finish(reason: 'end' | 'abort' | 'error', error?: unknown): void {
    const observer = this.observer;
    if (observer === undefined) return;
    this.observer = undefined;
    const at = performance.now();
    safely(this.recorder, 'SSE end observation', () => observer.finish(reason, at, error));
  }
}

/** The dispatcher a fetch call would have used, handing undici an ObservedHandler for each of its requests. */
class ObservingDispatcher implements Dispatcher {
  constructor(
    private readonly target: Dispatcher,
    private readonly observe: ObserveResponse,
    private readonly recorder: Recorder,
  ) {}

  get isMockActive(): boolean | undefined {
    return this.target.isMockActive;
  }

  dispatch(options: object, handler: DispatchHandler): boolean {
    return this.target.dispatch(options, isCallbackHandler(handler) ? new ObservedHandler(handler, this.observe, this.recorder) : handler);
  }
}

/**
 * `init` with an ObservingDispatcher over the dispatcher the call would have used, or
 * undefined where the request could not stay otherwise the same: a Request input may carry
 * a dispatcher of its own, and an init that is not a plain object may hold fields a copy
 * would lose.
 */
function initWithObservingDispatcher(
  input: unknown,
  init: RequestInit | undefined,
  observe: ObserveResponse,
  recorder: Recorder,
): RequestInit | undefined {
  if (input instanceof Request) return undefined;
  const prototype: unknown = init === undefined || init === null ? null : Object.getPrototypeOf(init);
  if (prototype !== null && prototype !== Object.prototype) return undefined;
  const target = ((init as { dispatcher?: Dispatcher } | undefined)?.dispatcher ??
    (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER]) as Dispatcher | undefined;
  if (typeof target?.dispatch !== 'function') return undefined;
  return { ...init, dispatcher: new ObservingDispatcher(target, observe, recorder) } as RequestInit;
}

const CHANNELS = {
  requestCreate: 'undici:request:create',
  beforeConnect: 'undici:client:beforeConnect',
  clientSocket: 'net.client.socket',
  connected: 'undici:client:connected',
  connectError: 'undici:client:connectError',
  sendHeaders: 'undici:client:sendHeaders',
} as const;

function requestUrl(input: unknown): URL | undefined {
  try {
    if (input instanceof Request) return new URL(input.url);
    return new URL(String(input));
  } catch {
    return undefined;
  }
}

function isEventStream(response: Response): boolean {
  return response.body !== null && (response.headers.get('content-type') ?? '').includes('text/event-stream');
}

/**
 * Streaming `fetch` (undici). The request lifecycle and connection phases come from
 * undici's diagnostics_channel events, as instrumentation-undici does; body chunks, which
 * those events do not report, are timed by wrapping global `fetch`: the call is given a
 * dispatcher that wraps the one it would have used, whose handler sees a `text/event-stream`
 * body's chunks as undici parses them, and the application gets undici's own Response.
 * Where that cannot be done (a compressed body, a Request input, an init that is not a
 * plain object), the body is read through a pass-through stream (ObservedBody) instead.
 */
export class FetchTransport {
  /**
   * A fetch call reaches undici's `request:create` without any context propagation (an
   * AsyncLocalStorage, ours or the context manager's, would make every promise in the
   * process pay a hook): undici publishes it synchronously inside `fetch`, where
   * `currentCall` is set; should it come later, the oldest waiting call for the same target
   * is taken. A redirect's new request matches neither and is timed from the call.
   */
  private currentCall: FetchCall | undefined;
  private readonly unclaimed = new Map<string, FetchCall[]>();
  private readonly requests = new WeakMap<object, FetchCall>();
  private readonly sockets = new WeakMap<Socket, ConnectionTracker>();
  /** Connect start times per host, oldest first: undici's `connected` does not say which attempt it ends. */
  private readonly connecting = new Map<string, number[]>();
  private pendingSocketStart = -1;
  private originalFetch: typeof fetch | undefined;
  private instrumentedFetch: typeof fetch | undefined;

  constructor(private readonly recorder: Recorder) {}

  enable(): void {
    if (this.originalFetch || typeof globalThis.fetch !== 'function') return;
    for (const [name, onMessage] of this.subscriptions()) diagnosticsChannel.subscribe(name, onMessage);
    this.originalFetch = globalThis.fetch;
    this.instrumentedFetch = this.wrapFetch(globalThis.fetch);
    globalThis.fetch = this.instrumentedFetch;
  }

  disable(): void {
    if (!this.originalFetch) return;
    for (const [name, onMessage] of this.subscriptions()) diagnosticsChannel.unsubscribe(name, onMessage);
    // If another wrapper now sits on top of ours, ours stays and passes through (originalFetch unset).
    if (globalThis.fetch === this.instrumentedFetch) globalThis.fetch = this.originalFetch;
    this.originalFetch = undefined;
    this.instrumentedFetch = undefined;
    this.connecting.clear();
    this.unclaimed.clear();
  }

  private subscriptions(): [string, (message: unknown) => void][] {
    return [
      [CHANNELS.requestCreate, this.onRequestCreate],
      [CHANNELS.beforeConnect, this.onBeforeConnect],
      [CHANNELS.clientSocket, this.onClientSocket],
      [CHANNELS.connected, this.onConnected],
      [CHANNELS.connectError, this.onConnectError],
      [CHANNELS.sendHeaders, this.onSendHeaders],
    ];
  }

  private wrapFetch(original: typeof fetch): typeof fetch {
    const target = (input: unknown) => (this.originalFetch ? requestUrl(input) : undefined);
    const ignored = (url: URL) => this.recorder.config.ignoreUrl?.(url.href) === true;
    const run = (call: FetchCall, send: () => Promise<Response>) => {
      const outer = this.currentCall;
      this.currentCall = call;
      try {
        return send();
      } finally {
        this.currentCall = outer;
        if (!call.claimed) this.waitForRequest(call);
      }
    };
    const settled = (call: FetchCall) => this.stopWaiting(call);
    const onResponse = (response: Response, call: FetchCall, url: URL, init?: RequestInit) => this.onResponse(response, call, url, init);
    const observing = (input: unknown, init: RequestInit | undefined, call: FetchCall, url: URL) => {
      let observed: RequestInit | undefined;
      // An init whose fields throw when read is left for fetch to reject, as it would without us.
      safely(this.recorder, 'fetch dispatcher setup', () => {
        observed = initWithObservingDispatcher(input, init, (statusCode, headers) => this.observeFromHeaders(call, url, init, statusCode, headers), this.recorder);
      });
      return observed;
    };
    const onFailure = (call: FetchCall, url: URL, init: RequestInit | undefined, error: unknown) =>
      this.onFailure(call, url, init, error instanceof Error && error.name === 'AbortError' ? OUTCOME.ABORTED : OUTCOME.CONNECTION_LOST);
    return function fetch(this: unknown, input: Parameters<typeof globalThis.fetch>[0], init?: RequestInit): Promise<Response> {
      const url = target(input);
      if (!url || ignored(url)) return original.call(this, input, init);
      const call: FetchCall = {
        target: url.origin + url.pathname + url.search,
        calledAt: performance.now(),
        parentContext: context.active(),
        sentAt: -1,
        reused: false,
        claimed: false,
        observed: false,
      };
      const sentInit = observing(input, init, call, url) ?? init;
      return run(call, () => original.call(this, input, sentInit)).then(
        (response) => {
          settled(call);
          return onResponse(response, call, url, init);
        },
        (error: unknown) => {
          settled(call);
          onFailure(call, url, init, error);
          throw error;
        },
      );
    } as typeof fetch;
  }

  private waitForRequest(call: FetchCall): void {
    const waiting = this.unclaimed.get(call.target);
    if (waiting) waiting.push(call);
    else this.unclaimed.set(call.target, [call]);
  }

  private stopWaiting(call: FetchCall): void {
    if (call.claimed) return;
    call.claimed = true;
    const waiting = this.unclaimed.get(call.target);
    const index = waiting?.indexOf(call) ?? -1;
    if (index >= 0) waiting?.splice(index, 1);
    if (waiting?.length === 0) this.unclaimed.delete(call.target);
  }

  private readonly onRequestCreate = (message: unknown): void => {
    const request = (message as { request: UndiciRequest }).request;
    const call = this.currentCall ?? this.unclaimed.get(`${request.origin ?? ''}${request.path ?? ''}`)?.[0];
    if (!call || call.claimed) return;
    this.stopWaiting(call);
    this.requests.set(request, call);
  };

  private readonly onBeforeConnect = (message: unknown): void => {
    const at = performance.now();
    const host = (message as { connectParams: { host: string } }).connectParams.host;
    const starts = this.connecting.get(host);
    if (starts) starts.push(at);
    else this.connecting.set(host, [at]);
    this.pendingSocketStart = at;
  };

  /** Published synchronously inside undici's connector for plain TCP: the socket before it connects. */
  private readonly onClientSocket = (message: unknown): void => {
    if (this.pendingSocketStart < 0) return;
    const socket = (message as { socket: Socket }).socket;
    this.track(socket, this.pendingSocketStart).observeSocket(socket);
    this.pendingSocketStart = -1;
  };

  /** The oldest pending connect start for a host, removed. */
  private takeConnectStart(host: string): number | undefined {
    this.pendingSocketStart = -1;
    const starts = this.connecting.get(host);
    const startedAt = starts?.shift();
    if (starts?.length === 0) this.connecting.delete(host);
    return startedAt;
  }

  private readonly onConnectError = (message: unknown): void => {
    this.takeConnectStart((message as { connectParams: { host: string } }).connectParams.host);
  };

  private readonly onConnected = (message: unknown): void => {
    const at = performance.now();
    safely(this.recorder, 'undici connect observation', () => {
      const { connectParams, socket } = message as { connectParams: { host: string; protocol: string }; socket: Socket };
      const startedAt = this.takeConnectStart(connectParams.host) ?? at;
      const connection = this.sockets.get(socket) ?? this.track(socket, startedAt);
      // A TLS socket is first seen here, already connected: only its counters are left to read.
      connection.countBytesOf(socket);
      connection.markReady(at);
      connection.setPeer(new URL(`${connectParams.protocol}//${connectParams.host}`));
    });
  };

  private readonly onSendHeaders = (message: unknown): void => {
    const at = performance.now();
    const { request, socket } = message as { request: UndiciRequest; socket: Socket };
    const call = this.requests.get(request);
    let connection = this.sockets.get(socket);
    if (!call) {
      if (connection) connection.requests++;
      return;
    }
    // A socket opened before the instrumentation was enabled: reused, and with no handshake
    // seen it gets no connection span, which would claim a free connection.
    if (!connection) {
      connection = this.track(socket, at);
      connection.requests++;
      connection.handshakeSeen = false;
      if (request.origin) connection.setPeer(new URL(request.origin));
    }
    call.sentAt = at;
    call.connection = connection;
    call.reused = connection.requests++ > 0;
  };

  private track(socket: Socket, startedAt: number): ConnectionTracker {
    const connection = new ConnectionTracker(this.recorder, TRANSPORT.SSE, startedAt);
    this.sockets.set(socket, connection);
    socket.once('close', () => connection.end(performance.now()));
    return connection;
  }

  private onResponse(response: Response, call: FetchCall, url: URL, init: RequestInit | undefined): Response {
    if (call.observed) return response;
    let observed: Response | undefined;
    safely(this.recorder, 'fetch response observation', () => {
      if (isEventStream(response)) observed = this.observeBody(response, call, url, init);
      else if (!response.ok) this.onFailure(call, url, init, OUTCOME.FAILED);
    });
    return observed ?? response;
  }

  /** A failed request to a model API that asked to stream still counts, by reason. */
  private onFailure(call: FetchCall, url: URL, init: RequestInit | undefined, outcome: Outcome): void {
    safely(this.recorder, 'fetch failure observation', () => {
      const parser = parserForPath(url.pathname);
      const body = typeof init?.body === 'string' ? init.body : undefined;
      if (parser.api === API.GENERIC || !body?.includes('"stream":true')) return;
      this.startResponse(parser, call, url, body).end(outcome, performance.now());
    });
  }

  private startResponse(parser: ProtocolParser, call: FetchCall, url: URL, body: string | undefined): ResponseTracker {
    let connection = call.connection;
    if (!connection) {
      // No socket seen for the call: the response still names a connection, which never reports.
      connection = new ConnectionTracker(this.recorder, TRANSPORT.SSE, call.calledAt);
      connection.handshakeSeen = false;
      connection.setPeer(url);
    }
    connection.carryResponse();
    const request: RequestInfo | undefined = body === undefined ? undefined : parser.parseRequest(body, this.recorder.config.captureContent);
    return new ResponseTracker(this.recorder, {
      parser,
      connection,
      url: url.href,
      reused: call.reused,
      sentAt: call.sentAt >= 0 ? call.sentAt : call.calledAt,
      parentContext: call.parentContext,
      request,
      bytesSent: body === undefined ? 0 : Buffer.byteLength(body),
    });
  }

  /** The observer of an uncompressed `text/event-stream` body, from its headers; undefined for any other. */
  private observeFromHeaders(call: FetchCall, url: URL, init: RequestInit | undefined, statusCode: number, headers: unknown): SseResponseObserver | undefined {
    if (NULL_BODY_STATUSES.has(statusCode) || init?.method?.toUpperCase() === 'HEAD') return undefined;
    if (!(headerValue(headers, 'content-type') ?? '').includes('text/event-stream')) return undefined;
    // Compressed bytes cannot be split into events: such a body is observed once fetch has decoded it.
    const encoding = headerValue(headers, 'content-encoding')?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') return undefined;
    call.observed = true;
    return this.sseObserver(call, url, init);
  }

  private sseObserver(call: FetchCall, url: URL, init: RequestInit | undefined): SseResponseObserver {
    const parser = parserForPath(url.pathname);
    const tracker = this.startResponse(parser, call, url, typeof init?.body === 'string' ? init.body : undefined);
    return new SseResponseObserver(this.recorder, parser, tracker);
  }

  private observeBody(response: Response, call: FetchCall, url: URL, init: RequestInit | undefined): Response {
    const observer = this.sseObserver(call, url, init);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    // High-water mark 0: the stream never asks for data on its own, so no pull (and none of
    // its promises) runs per chunk; ObservedBody decides how far to read ahead.
    const body = new ReadableStream<Uint8Array>(new ObservedBody(reader, observer, this.recorder), {
      highWaterMark: 0,
      size: (chunk) => chunk.byteLength,
    });
    const observed = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    // A constructed Response has an empty url and default type; keep what the application would have seen.
    Object.defineProperties(observed, {
      url: { value: response.url },
      redirected: { value: response.redirected },
      type: { value: response.type },
    });
    return observed;
  }
}
