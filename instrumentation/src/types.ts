import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

export interface StreamscopeInstrumentationConfig extends InstrumentationConfig {
  /**
   * Most token arrival offsets kept per response (the `token_offsets_us` array and the
   * inter-token percentiles). Chunk counts, mean and max stay exact past the cap.
   * Default 4096.
   */
  maxTokenOffsets?: number;
  /** Add one span event per output chunk. Off by default: it multiplies span size. */
  tokenEvents?: boolean;
  /**
   * Record `gen_ai.client.operation.time_per_output_chunk`, one value per gap between output
   * chunks as the GenAI conventions define it. With a meter provider, the OpenTelemetry
   * metrics SDK spends about 1.5 µs on each value (it hashes the attributes on every
   * record): more than the rest of the per-chunk work. Off, the gaps are still in the span
   * (`token_offsets_us`, ITL percentiles). Default true.
   */
  timePerOutputChunkMetric?: boolean;
  /**
   * Record prompt and completion text (gen_ai.input.messages / gen_ai.output.messages).
   * Off by default; text is capped at `maxContentBytes`.
   */
  captureContent?: boolean;
  /** Cap on captured text per response when `captureContent` is on. Default 65536. */
  maxContentBytes?: number;
  /**
   * Largest SSE event kept in memory while it is being assembled. Bigger events are
   * truncated to their start, which still identifies them. Default 1 MiB.
   */
  maxEventBytes?: number;
  /**
   * A response with no terminal event this long after its request ends with outcome
   * `timeout` (its span is emitted then; later events are ignored). 0 disables.
   * Default 300000 (5 minutes).
   */
  responseTimeoutMs?: number;
  /**
   * A connection that has carried a model response and is still open this long after its
   * first one reports itself (a connection span with `streamscope.connection.open`), and
   * again at every interval until it closes: a persistent WebSocket's handshake and use are
   * seen while it lives, not only once it closes. 0 reports connections only when they
   * close. Default 30000 (30 s).
   */
  connectionReportIntervalMs?: number;
  /** Return true to leave a request untouched (no spans, no timing). */
  ignoreUrl?: (url: string) => boolean;
}
