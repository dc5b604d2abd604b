import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { arrivalTime } from '../arrival-clock.ts';
import { ConnectionTracker } from '../connection-tracker.ts';
import { TRANSPORT } from '../contract.ts';
import type { Recorder } from '../internal-types.ts';
import { safely } from '../safely.ts';
import { FRAME_HEAD_CHARS, WebSocketSession, type ReceivedFrame } from '../websocket-session.ts';

/** The parts of a `ws` client socket this transport reads; `_req` is ws's handshake request. */
interface WsSocket extends WebSocket {
  _req?: ClientRequest | null;
  _isServer?: boolean;
  _receiver?: { _allowSynchronousEvents?: boolean } | null;
}

type Emit = (this: WsSocket, event: string | symbol, ...args: unknown[]) => boolean;
type Send = (this: WsSocket, data: unknown, ...rest: unknown[]) => void;
type Close = (this: WsSocket, ...args: unknown[]) => void;



const REQUEST_START_CHANNEL = 'http.client.request.start';

function toBuffer(data: unknown): Buffer | undefined {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return undefined;
}

/** A text frame; reused for every message, since the session reads it synchronously. */
class BufferFrame implements ReceivedFrame {
  head = '';
  private buffer: Buffer = Buffer.alloc(0);

  set(buffer: Buffer): this {
    this.buffer = buffer;
    // latin1 is a byte copy; enough for the ASCII type and ids the hot path looks for.
    this.head = buffer.toString('latin1', 0, FRAME_HEAD_CHARS);
    return this;
  }

  text(): string {
    return this.buffer.toString('utf8');
  }
}

/**
 * Observes `ws` client sockets by wrapping `WebSocket.prototype` methods: `emit` sees each
 * frame (and 'upgrade', 'close') before any application listener runs; `send` sees
 * requests. The handshake's DNS/TCP/TLS phases come from the upgrade request, found
 * through the `http.client.request.start` diagnostics channel.
 */
export class WsTransport {
  private readonly sessions = new WeakMap<WebSocket, WebSocketSession>();
  private readonly handshakes = new WeakMap<ClientRequest, ConnectionTracker>();
  private readonly frame = new BufferFrame();
  private subscribed = false;

  constructor(private readonly recorder: Recorder) {}

  subscribe(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    diagnosticsChannel.subscribe(REQUEST_START_CHANNEL, this.onRequestStart);
  }

  unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    diagnosticsChannel.unsubscribe(REQUEST_START_CHANNEL, this.onRequestStart);
  }

  private readonly onRequestStart = (message: unknown): void => {
    try {
      const request = (message as { request: ClientRequest }).request;
      if (String(request.getHeader('upgrade')).toLowerCase() !== 'websocket') return;
      const connection = new ConnectionTracker(this.recorder, TRANSPORT.WEBSOCKET, performance.now());
      this.handshakes.set(request, connection);
      // Node publishes this channel a tick after assigning the socket, but before it connects.
      if (request.socket) connection.observeSocket(request.socket);
      else request.once('socket', (socket: Socket) => connection.observeSocket(socket));
    } catch (err) {
      this.recorder.diag.debug('ws handshake observation failed', err);
    }
  };

  wrapEmit = (original: Emit): Emit => {
    const observe = (socket: WsSocket, event: string, first: unknown, second: unknown) => this.observe(socket, event, first, second);
    return function emit(this: WsSocket, event: string | symbol): boolean {
      if (event === 'message' || event === 'upgrade' || event === 'close') {
        // eslint-disable-next-line prefer-rest-params -- a rest parameter would allocate on every event.
        observe(this, event, arguments[1], arguments[2]);
      }
      // eslint-disable-next-line prefer-rest-params
      return original.apply(this, arguments as unknown as Parameters<Emit>);
    };
  };

  wrapSend = (original: Send): Send => {
    const onSend = (socket: WsSocket, data: unknown) => this.onSend(socket, data);
    return function send(this: WsSocket, data: unknown): void {
      // eslint-disable-next-line prefer-rest-params
      original.apply(this, arguments as unknown as Parameters<Send>);
      onSend(this, data);
    };
  };

  wrapClose = (original: Close): Close => {
    const sessions = this.sessions;
    return function close(this: WsSocket): void {
      sessions.get(this)?.onAppClose();
      // eslint-disable-next-line prefer-rest-params
      original.apply(this, arguments as unknown as Parameters<Close>);
    };
  };

  private observe(socket: WsSocket, event: string, first: unknown, second: unknown): void {
    // With allowSynchronousEvents off, ws emits messages from immediates, outside the poll
    // whose reading arrivalTime() shares.
    const at = event === 'message' && socket._receiver?._allowSynchronousEvents !== false ? arrivalTime() : performance.now();
    try {
      if (event === 'message') {
        const session = this.sessions.get(socket);
        if (!session) return;
        const buffer = toBuffer(first);
        session.onMessage(second === true || !buffer ? undefined : this.frame.set(buffer), buffer?.length ?? 0, at);
      } else if (event === 'upgrade') {
        if (socket._isServer) return;
        const request = socket._req;
        const connection =
          (request && this.handshakes.get(request)) || new ConnectionTracker(this.recorder, TRANSPORT.WEBSOCKET, at);
        connection.markUpgraded(at);
        this.sessions.set(socket, new WebSocketSession(this.recorder, connection, new URL(socket.url)));
      } else {
        this.sessions.get(socket)?.onClose(typeof first === 'number' ? first : undefined, at);
        this.sessions.delete(socket);
      }
    } catch (err) {
      this.recorder.diag.error(`ws ${event} observation failed`, err);
    }
  }

  private onSend(socket: WsSocket, data: unknown): void {
    const session = this.sessions.get(socket);
    if (!session) return;
    const at = performance.now();
    safely(this.recorder, 'ws send observation', () => {
      if (typeof data === 'string') session.onSend(data, Buffer.byteLength(data), at);
      else session.onSend(undefined, ArrayBuffer.isView(data) || data instanceof ArrayBuffer ? data.byteLength : 0, at);
    });
  }
}
