import { context } from '@opentelemetry/api';
import { API, OUTCOME } from './contract.ts';
import { ConnectionTracker } from './connection-tracker.ts';
import { EVENT_CLASS, type ProtocolParser, type Recorder } from './internal-types.ts';
import { stringField } from './parsers/json-scan.ts';
import { parserForFirstMessage, parserForPath } from './parsers/select.ts';
import { ResponseTracker } from './stream-tracker.ts';

/** Every supported event names its type within this many characters. */
export const FRAME_HEAD_CHARS = 64;

/** A received frame: its head for the hot path, the whole text only when needed. */
export interface ReceivedFrame {
  readonly head: string;
  text(): string;
}

/**
 * Routes the frames of one WebSocket to its responses. Requests (`response.create`) queue
 * until the server's `response.created` names them; several responses may be open at once
 * and deltas are routed by `response_id` when they carry it, else to the newest response
 * (the Responses API runs one response at a time per socket, so that is the open one).
 */
export class WebSocketSession {
  private parser: ProtocolParser | undefined;
  private detecting: boolean;
  private readonly pending: ResponseTracker[] = [];
  private readonly open: ResponseTracker[] = [];
  private closedByApp = false;
  private readonly url: string;

  constructor(
    private readonly recorder: Recorder,
    readonly connection: ConnectionTracker,
    url: URL,
  ) {
    connection.setPeer(url);
    this.url = url.href;
    const parser = parserForPath(url.pathname);
    this.detecting = parser.api === API.GENERIC;
    this.parser = this.detecting ? undefined : parser;
  }

  onSend(text: string | undefined, bytes: number, at: number): void {
    const { connection } = this;
    connection.framesSent++;
    connection.bytesSent += bytes;
    if (text === undefined) return;
    if (this.detecting) this.detect(text);
    const request = this.parser?.parseRequest(text, this.recorder.config.captureContent);
    if (!this.parser || !request?.createsResponse) return;
    connection.carryResponse();
    this.pending.push(
      new ResponseTracker(this.recorder, {
        parser: this.parser,
        connection,
        reused: connection.requests++ > 0,
        url: this.url,
        sentAt: at,
        parentContext: context.active(),
        request,
        bytesSent: bytes,
      }),
    );
  }

  onMessage(frame: ReceivedFrame | undefined, bytes: number, at: number): void {
    this.connection.framesReceived++;
    this.connection.bytesReceived += bytes;
    if (frame === undefined) return;
    if (this.detecting) this.detect(frame.head);
    const parser = this.parser;
    if (!parser) return;
    const eventClass = parser.classify(frame.head);
    if (eventClass === EVENT_CLASS.OUTPUT) {
      const tracker = this.route(frame);
      if (!tracker) return;
      tracker.onEvent(at, bytes);
      tracker.onOutput(at);
      if (this.recorder.config.captureContent) tracker.appendContent(parser.outputText(frame.text()));
    } else if (eventClass === EVENT_CLASS.CONTROL) {
      this.onControl(parser, frame.text(), bytes, at);
    } else {
      this.route(frame)?.onEvent(at, bytes);
    }
  }

  onAppClose(): void {
    this.closedByApp = true;
  }

  onClose(code: number | undefined, at: number): void {
    const outcome = this.closedByApp ? OUTCOME.ABORTED : OUTCOME.CONNECTION_LOST;
    for (const tracker of [...this.pending, ...this.open]) tracker.end(outcome, at);
    this.pending.length = 0;
    this.open.length = 0;
    this.connection.closeCode = code;
    this.connection.end(at);
  }

  private onControl(parser: ProtocolParser, text: string, bytes: number, at: number): void {
    const control = parser.parseControl(text);
    if (!control) return;
    let tracker: ResponseTracker | undefined;
    if (control.starts) {
      // A response the server started on its own (Realtime voice activity) has no request: it starts now.
      tracker = this.pending.shift() ?? this.serverInitiated(parser, at);
      this.forgetEnded();
      this.open.push(tracker);
    } else {
      tracker =
        (control.responseId !== undefined && this.open.find((t) => t.responseId === control.responseId)) ||
        this.open[this.open.length - 1] ||
        this.pending.shift();
    }
    if (!tracker) return;
    tracker.onEvent(at, bytes);
    tracker.onControl(control);
    if (control.outcome !== undefined) {
      tracker.end(control.outcome, at);
      const index = this.open.indexOf(tracker);
      if (index >= 0) this.open.splice(index, 1);
    }
  }

  /**
   * Open responses ended by their timeout are dropped here, so a long-lived socket does not
   * accumulate them. Pending ones stay: each still pairs with a `response.created` in order.
   */
  private forgetEnded(): void {
    const open = this.open;
    for (let i = open.length - 1; i >= 0; i--) if (open[i].isEnded) open.splice(i, 1);
  }

  private serverInitiated(parser: ProtocolParser, at: number): ResponseTracker {
    this.connection.carryResponse();
    return new ResponseTracker(this.recorder, {
      parser,
      connection: this.connection,
      reused: this.connection.requests++ > 0,
      url: this.url,
      sentAt: at,
      parentContext: context.active(),
      bytesSent: 0,
    });
  }

  private route(frame: ReceivedFrame): ResponseTracker | undefined {
    const open = this.open;
    if (open.length <= 1) return open[0];
    const id = stringField(frame.text(), 'response_id');
    return (id !== undefined && open.find((t) => t.responseId === id)) || open[open.length - 1];
  }

  /** The first message either way may name the protocol of a socket on an unknown path. */
  private detect(text: string): void {
    this.detecting = false;
    this.parser = parserForFirstMessage(text);
  }
}
