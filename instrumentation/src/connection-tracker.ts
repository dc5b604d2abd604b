import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { SpanKind, type Attributes } from '@opentelemetry/api';
import { ATTR_CONNECTION_ID, ATTR_KIND, ATTR_TRANSPORT, CONNECTION, KIND, PEER, type Transport } from './contract.ts';
import type { ConnectionRef, Recorder } from './internal-types.ts';
import { wallClock } from './stream-tracker.ts';

function elapsed(from: number, to: number): number | undefined {
  return from >= 0 && to >= 0 ? to - from : undefined;
}

/**
 * One connection's life: handshake phases as they happen, traffic counters, and the
 * connection span when it closes, preceded by a report every `connectionReportIntervalMs`
 * while it stays open. Connections that carried no model response emit nothing, so
 * unrelated sockets in the application cost no spans.
 */
export class ConnectionTracker implements ConnectionRef {
  readonly id = randomBytes(8).toString('hex');
  serverAddress: string | undefined;
  serverPort: number | undefined;
  url: string | undefined;
  /** Model responses carried (counted by carryResponse). */
  responses = 0;
  /** Requests of any kind carried; a request finding this above zero rode a reused connection. */
  requests = 0;
  framesSent = 0;
  framesReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  closeCode: number | undefined;
  /** False for a connection first seen after it was made; such a connection emits no span. */
  handshakeSeen = true;
  private lookupAt = -1;
  private tcpAt = -1;
  private tlsAt = -1;
  private readyAt = -1;
  private upgradeAt = -1;
  private socket: Socket | undefined;
  private ended = false;
  private reports: NodeJS.Timeout | undefined;
  /** An open report was emitted: the closing span says so, for the collector to replace it. */
  private reported = false;

  constructor(
    private readonly recorder: Recorder,
    readonly transport: Transport,
    /** performance.now() when connecting began. */
    private readonly startedAt: number,
  ) {}

  setPeer(url: URL): void {
    this.url = url.href;
    this.serverAddress = url.hostname;
    this.serverPort = url.port ? Number(url.port) : url.protocol === 'https:' || url.protocol === 'wss:' ? 443 : 80;
  }

  /** Timestamps DNS, TCP and TLS completion; the socket's byte counters become the wire totals. */
  observeSocket(socket: Socket): void {
    this.countBytesOf(socket);
    socket.once('lookup', () => (this.lookupAt = performance.now()));
    socket.once('connect', () => (this.tcpAt = performance.now()));
    socket.once('secureConnect', () => (this.tlsAt = performance.now()));
  }

  /** The socket's byte counters become the connection's totals; for TLS, the bytes inside the TLS records. */
  countBytesOf(socket: Socket): void {
    this.socket ??= socket;
  }

  /** The transport is ready for requests (TCP/TLS done, or undici's `connected`). */
  markReady(at: number): void {
    if (this.readyAt < 0) this.readyAt = at;
  }

  markUpgraded(at: number): void {
    this.upgradeAt = at;
  }

  /**
   * Counts a model response. The first starts the open reports of a connection whose close
   * will be reported (one whose handshake was seen).
   */
  carryResponse(): void {
    if (this.responses++ > 0 || !this.handshakeSeen || this.ended) return;
    const interval = this.recorder.config.connectionReportIntervalMs;
    if (!(interval > 0)) return;
    this.reports = setInterval(() => this.emit(performance.now(), true), interval);
    // Reports never keep the application alive.
    this.reports.unref();
  }

  end(at: number): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.reports);
    if (this.responses === 0 || !this.handshakeSeen) return;
    this.emit(at, false);
  }

  private emit(at: number, open: boolean): void {
    try {
      this.emitSpan(at, open);
    } catch (err) {
      this.recorder.diag.error('failed to record connection span', err);
    }
  }

  private emitSpan(at: number, open: boolean): void {
    const handshakeDone = this.tlsAt >= 0 ? this.tlsAt : this.tcpAt;
    const ready = this.readyAt >= 0 ? this.readyAt : handshakeDone;
    const attributes: Attributes = {
      [ATTR_KIND]: KIND.CONNECTION,
      [ATTR_TRANSPORT]: this.transport,
      [ATTR_CONNECTION_ID]: this.id,
      [PEER.SERVER_ADDRESS]: this.serverAddress,
      [PEER.SERVER_PORT]: this.serverPort,
      [PEER.URL_FULL]: this.url,
      [CONNECTION.DNS_MS]: elapsed(this.startedAt, this.lookupAt),
      [CONNECTION.TCP_MS]: elapsed(this.lookupAt >= 0 ? this.lookupAt : this.startedAt, this.tcpAt),
      [CONNECTION.TLS_MS]: elapsed(this.tcpAt, this.tlsAt),
      [CONNECTION.CONNECT_MS]: elapsed(this.startedAt, ready),
      [CONNECTION.UPGRADE_MS]: elapsed(ready, this.upgradeAt),
      [CONNECTION.RESPONSES]: this.responses,
      [CONNECTION.BYTES_SENT]: this.socket?.bytesWritten ?? this.bytesSent,
      [CONNECTION.BYTES_RECEIVED]: this.socket?.bytesRead ?? this.bytesReceived,
      [CONNECTION.FRAMES_SENT]: this.framesSent,
      [CONNECTION.FRAMES_RECEIVED]: this.framesReceived,
      [CONNECTION.CLOSE_CODE]: open ? undefined : this.closeCode,
      [CONNECTION.OPEN]: open || (this.reported ? false : undefined),
    };
    const span = this.recorder.tracer.startSpan(`connection ${this.serverAddress ?? ''}`.trim(), {
      kind: SpanKind.CLIENT,
      startTime: wallClock(this.startedAt),
      attributes,
    });
    span.end(wallClock(at));
    if (open) this.reported = true;
  }
}
