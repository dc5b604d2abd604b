import { arrivalTime } from '../arrival-clock.ts';
import { ConnectionTracker } from '../connection-tracker.ts';
import { TRANSPORT } from '../contract.ts';
import type { Recorder } from '../internal-types.ts';
import { safely } from '../safely.ts';
import { FRAME_HEAD_CHARS, WebSocketSession, type ReceivedFrame } from '../websocket-session.ts';

function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return data instanceof Blob ? data.size : 0;
}

/** A text frame; reused for every message, since the session reads it synchronously. */
class StringFrame implements ReceivedFrame {
  head = '';
  private data = '';

  set(data: string): this {
    this.data = data;
    this.head = data.length > FRAME_HEAD_CHARS ? data.slice(0, FRAME_HEAD_CHARS) : data;
    return this;
  }

  text(): string {
    return this.data;
  }
}

/**
 * The global `WebSocket` (Node ≥ 22, undici's implementation): replaced by a subclass whose
 * constructor registers its own listeners first, so frames are timestamped before any
 * application listener runs. The handshake is one figure (connect_ms): undici does not
 * expose its DNS/TCP/TLS/upgrade phases for WebSockets.
 */
export class GlobalWebSocketTransport {
  private original: typeof WebSocket | undefined;
  private instrumented: typeof WebSocket | undefined;
  private readonly sessions = new WeakMap<WebSocket, WebSocketSession>();
  private readonly frame = new StringFrame();

  constructor(private readonly recorder: Recorder) {}

  enable(): void {
    const Original = globalThis.WebSocket;
    if (typeof Original !== 'function' || this.original) return;
    const attach = (socket: WebSocket) => this.attach(socket);
    const onSend = (socket: WebSocket, data: unknown) => this.onSend(socket, data);
    const sessions = this.sessions;
    class InstrumentedWebSocket extends Original {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        attach(this);
      }

      override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
        super.send(data);
        onSend(this, data);
      }

      override close(code?: number, reason?: string): void {
        sessions.get(this)?.onAppClose();
        super.close(code, reason);
      }
    }
    Object.defineProperty(InstrumentedWebSocket, 'name', { value: Original.name });
    this.original = Original;
    this.instrumented = InstrumentedWebSocket;
    globalThis.WebSocket = InstrumentedWebSocket;
  }

  disable(): void {
    if (!this.original) return;
    // Someone may have wrapped ours since; replacing theirs would silently drop their layer.
    if (globalThis.WebSocket === this.instrumented) globalThis.WebSocket = this.original;
    this.original = undefined;
    this.instrumented = undefined;
  }

  private attach(socket: WebSocket): void {
    try {
      const connection = new ConnectionTracker(this.recorder, TRANSPORT.WEBSOCKET, performance.now());
      const session = new WebSocketSession(this.recorder, connection, new URL(socket.url));
      this.sessions.set(socket, session);
      socket.addEventListener('open', () => connection.markReady(performance.now()));
      socket.addEventListener('message', (event: MessageEvent) => this.onMessage(session, event.data));
      socket.addEventListener('close', (event: CloseEvent) => {
        safely(this.recorder, 'WebSocket close observation', () => session.onClose(event.code, performance.now()));
        this.sessions.delete(socket);
      });
    } catch (err) {
      this.recorder.diag.error('WebSocket observation failed', err);
    }
  }

  private onMessage(session: WebSocketSession, data: unknown): void {
    const at = arrivalTime();
    // A plain try rather than safely(): this runs per frame and must not allocate a closure.
    try {
      session.onMessage(typeof data === 'string' ? this.frame.set(data) : undefined, byteLength(data), at);
    } catch (err) {
      this.recorder.diag.error('WebSocket message observation failed', err);
    }
  }

  private onSend(socket: WebSocket, data: unknown): void {
    const session = this.sessions.get(socket);
    if (!session) return;
    const at = performance.now();
    safely(this.recorder, 'WebSocket send observation', () => session.onSend(typeof data === 'string' ? data : undefined, byteLength(data), at));
  }
}
