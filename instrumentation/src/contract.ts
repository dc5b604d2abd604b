/*
 * The span contract: the attribute names and values that carry streaming timings.
 *
 * This module is the single definition. The instrumentation emits these names, the
 * Streamscope collector reads them, and docs/span-contract.md documents them so that
 * other tools can emit them too. Where the OpenTelemetry GenAI semantic conventions
 * define a name (gen_ai.*), that name is used instead and is re-exported here so the
 * collector needs one import.
 *
 * Durations in our namespace are milliseconds (float) with the unit in the name;
 * token arrival offsets are integer microseconds from the request being sent.
 */
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_SYSTEM,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from '@opentelemetry/semantic-conventions/incubating';

export const GEN_AI = {
  OPERATION_NAME: ATTR_GEN_AI_OPERATION_NAME,
  PROVIDER_NAME: ATTR_GEN_AI_PROVIDER_NAME,
  /** Deprecated in the conventions in favour of gen_ai.provider.name; older instrumentations still send it. */
  SYSTEM: ATTR_GEN_AI_SYSTEM,
  REQUEST_MODEL: ATTR_GEN_AI_REQUEST_MODEL,
  RESPONSE_MODEL: ATTR_GEN_AI_RESPONSE_MODEL,
  RESPONSE_ID: ATTR_GEN_AI_RESPONSE_ID,
  RESPONSE_FINISH_REASONS: ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  /** Seconds, per the GenAI conventions. */
  RESPONSE_TIME_TO_FIRST_CHUNK: ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  USAGE_INPUT_TOKENS: ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  USAGE_OUTPUT_TOKENS: ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  /** Older names some instrumentations (OpenLLMetry, OpenLIT) still send. */
  USAGE_PROMPT_TOKENS: 'gen_ai.usage.prompt_tokens',
  USAGE_COMPLETION_TOKENS: 'gen_ai.usage.completion_tokens',
} as const;

/** Which of our two span shapes a span is. */
export const ATTR_KIND = 'streamscope.kind';
export const KIND = { RESPONSE: 'response', CONNECTION: 'connection' } as const;
export type SpanKindValue = (typeof KIND)[keyof typeof KIND];

export const ATTR_TRANSPORT = 'streamscope.transport';
export const TRANSPORT = { WEBSOCKET: 'websocket', SSE: 'sse', HTTP: 'http' } as const;
export type Transport = (typeof TRANSPORT)[keyof typeof TRANSPORT];

/** Which wire protocol the stream spoke; picks the parser. */
export const ATTR_API = 'streamscope.api';
export const API = {
  OPENAI_RESPONSES: 'openai.responses',
  OPENAI_REALTIME: 'openai.realtime',
  OPENAI_CHAT_COMPLETIONS: 'openai.chat_completions',
  ANTHROPIC_MESSAGES: 'anthropic.messages',
  GENERIC: 'generic',
} as const;
export type Api = (typeof API)[keyof typeof API];

/** Shared by both span shapes: a response names the connection that carried it. */
export const ATTR_CONNECTION_ID = 'streamscope.connection.id';

/** Response span attributes. The span starts when the request is sent. */
export const RESPONSE = {
  /** true when the response rode a connection that had carried an earlier request. */
  CONNECTION_REUSED: 'streamscope.connection.reused',
  /** Wall-clock time the request left, Unix epoch milliseconds (float). Equals the span start. */
  REQUEST_SENT_TIME_MS: 'streamscope.response.request_sent_time_ms',
  /** First byte of the response (any event, including control events), ms after the request. */
  TTFB_MS: 'streamscope.response.ttfb_ms',
  /** First event carrying generated output (text, refusal, tool-argument or audio delta), ms. */
  TTFT_MS: 'streamscope.response.ttft_ms',
  /** Request sent to the last event of the response, ms. */
  DURATION_MS: 'streamscope.response.duration_ms',
  /** Output events (deltas) seen; exact even when the offsets array is capped. */
  OUTPUT_CHUNKS: 'streamscope.response.output_chunks',
  /** Output tokens divided by generation time (first to last output event), tokens/s. */
  TOKENS_PER_SECOND: 'streamscope.response.tokens_per_second',
  ITL_MEAN_MS: 'streamscope.response.itl_mean_ms',
  ITL_P50_MS: 'streamscope.response.itl_p50_ms',
  ITL_P99_MS: 'streamscope.response.itl_p99_ms',
  ITL_MAX_MS: 'streamscope.response.itl_max_ms',
  /** int[]: arrival of each output event, microseconds after the request was sent. Capped. */
  TOKEN_OFFSETS_US: 'streamscope.response.token_offsets_us',
  /** How the stream ended; see OUTCOME. */
  OUTCOME: 'streamscope.response.outcome',
  /** Wire bytes of this response's frames/body each way. */
  BYTES_SENT: 'streamscope.response.bytes_sent',
  BYTES_RECEIVED: 'streamscope.response.bytes_received',
} as const;

export const OUTCOME = {
  /** Ended normally (response.completed, message_stop, [DONE], finish_reason). */
  COMPLETED: 'completed',
  /** Ended early by the provider (max tokens, content filter): response.incomplete. */
  INCOMPLETE: 'incomplete',
  /** The provider reported a failure (response.failed, error event, HTTP error status). */
  FAILED: 'failed',
  /** The application aborted or cancelled the stream. */
  ABORTED: 'aborted',
  /** The connection closed or errored before the stream ended. */
  CONNECTION_LOST: 'connection_lost',
  /** No terminal event arrived within the configured response timeout. */
  TIMEOUT: 'timeout',
} as const;
export type Outcome = (typeof OUTCOME)[keyof typeof OUTCOME];

/**
 * Connection span attributes. The span starts at connect and ends at close; a connection
 * still open reports itself every `connectionReportIntervalMs` with `OPEN` set.
 */
export const CONNECTION = {
  /** Milliseconds spent in each phase; absent when the phase did not happen (reused socket, plain TCP). */
  DNS_MS: 'streamscope.connection.dns_ms',
  TCP_MS: 'streamscope.connection.tcp_ms',
  TLS_MS: 'streamscope.connection.tls_ms',
  /** Connect start to a usable transport (DNS + TCP + TLS), present whenever a new connection was made; the only phase figure when the phases cannot be told apart (undici over TLS, the global WebSocket). */
  CONNECT_MS: 'streamscope.connection.connect_ms',
  /** WebSocket only: HTTP upgrade request sent to 101 received. */
  UPGRADE_MS: 'streamscope.connection.upgrade_ms',
  /** Responses this connection carried over its life. */
  RESPONSES: 'streamscope.connection.responses',
  BYTES_SENT: 'streamscope.connection.bytes_sent',
  BYTES_RECEIVED: 'streamscope.connection.bytes_received',
  FRAMES_SENT: 'streamscope.connection.frames_sent',
  FRAMES_RECEIVED: 'streamscope.connection.frames_received',
  /** WebSocket close code (1000 normal, 1006 abnormal, ...). */
  CLOSE_CODE: 'streamscope.connection.close_code',
  /**
   * True on a report of a connection still open: the span ends at the report, its counters
   * are those so far, and the connection's next report or its closing span supersedes it.
   * False on the closing span of a connection that sent such reports; absent otherwise.
   */
  OPEN: 'streamscope.connection.open',
} as const;

/** Standard attributes the contract relies on for peers. */
export const PEER = {
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
  URL_FULL: 'url.full',
} as const;
