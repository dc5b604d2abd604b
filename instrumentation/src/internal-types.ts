import type { Context, DiagLogger, Histogram, Tracer } from '@opentelemetry/api';
import type { Api, Outcome, Transport } from './contract.ts';

/** How the hot path sorts a server event before anything is parsed; a bit set. */
export const EVENT_CLASS = { IGNORE: 0, OUTPUT: 1, CONTROL: 2, OUTPUT_AND_CONTROL: 3 } as const;
export type EventClass = (typeof EVENT_CLASS)[keyof typeof EVENT_CLASS];

/** What a parsed control event says about its response. */
export interface ControlEvent {
  /** The event opens a new response (response.created). */
  starts?: boolean;
  responseId?: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  finishReasons?: string[];
  /** Set when the event tells how the response ended. */
  outcome?: Outcome;
}

/** What a client request (HTTP body or WebSocket message) says. */
export interface RequestInfo {
  /** The message asks for a new response (always true for an HTTP request body). */
  createsResponse: boolean;
  model?: string;
  /** The prompt as its JSON text; read only when content capture is on. */
  input?: string;
}

export interface ProtocolParser {
  readonly api: Api;
  readonly provider: string;
  /**
   * Sorts one server event from (at least) the first few hundred characters of its
   * payload. Must stay cheap: it runs for every delta.
   */
  classify(data: string, eventName?: string): EventClass;
  parseControl(data: string, eventName?: string): ControlEvent | undefined;
  /** `withInput`: the prompt is wanted (content capture); it is otherwise passed over unparsed. */
  parseRequest(body: string, withInput: boolean): RequestInfo | undefined;
  /** Generated text carried by an output event; only called when content capture is on. */
  outputText(data: string): string | undefined;
  /** Outcome of a stream whose body ended without a terminal event. */
  readonly endOfStreamOutcome: Outcome;
}

export interface MetricInstruments {
  operationDuration: Histogram;
  tokenUsage: Histogram;
  timeToFirstChunk: Histogram;
  timePerOutputChunk: Histogram;
}

export interface ResolvedConfig {
  maxTokenOffsets: number;
  tokenEvents: boolean;
  timePerOutputChunkMetric: boolean;
  captureContent: boolean;
  maxContentBytes: number;
  maxEventBytes: number;
  responseTimeoutMs: number;
  connectionReportIntervalMs: number;
  ignoreUrl?: (url: string) => boolean;
}

/** What trackers need from the instrumentation, read when a span is built. */
export interface Recorder {
  readonly tracer: Tracer;
  readonly instruments: MetricInstruments;
  readonly config: ResolvedConfig;
  readonly diag: DiagLogger;
}

/** The connection a response rode on, as its span names it. */
export interface ConnectionRef {
  readonly id: string;
  readonly serverAddress?: string;
  readonly serverPort?: number;
  readonly transport: Transport;
}

export interface ResponseStart {
  parser: ProtocolParser;
  connection: ConnectionRef;
  reused: boolean;
  url: string;
  /** performance.now() when the request left. */
  sentAt: number;
  /** Active context when the application sent the request; parents the span. */
  parentContext: Context;
  request?: RequestInfo;
  bytesSent: number;
}
