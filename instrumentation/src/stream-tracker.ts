import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_TOKEN_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
} from '@opentelemetry/semantic-conventions/incubating';
import { ATTR_API, ATTR_CONNECTION_ID, ATTR_KIND, ATTR_TRANSPORT, GEN_AI, KIND, OUTCOME, PEER, RESPONSE, type Outcome } from './contract.ts';
import type { ControlEvent, Recorder, ResponseStart } from './internal-types.ts';

/** Read once: the getter is a native call, and the value never changes. */
const TIME_ORIGIN = performance.timeOrigin;

/** Monotonic milliseconds (performance.now()) to Unix epoch milliseconds. */
export function wallClock(monotonicMs: number): number {
  return TIME_ORIGIN + monotonicMs;
}

const FAILED_OUTCOMES: ReadonlySet<Outcome> = new Set([OUTCOME.FAILED, OUTCOME.CONNECTION_LOST, OUTCOME.TIMEOUT]);

/** Reused by recordedGaps(); grown to the longest response seen. */
let gapScratch = new Float64Array(256);

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

/**
 * Timing state of one streamed response, from the request leaving to its last event,
 * turned into one span (and the GenAI metrics) when it ends. Times are performance.now()
 * values taken by the transport when the bytes arrived.
 */
export class ResponseTracker {
  responseId: string | undefined;
  private model: string | undefined;
  private inputTokens: number | undefined;
  private outputTokens: number | undefined;
  private finishReasons: string[] | undefined;
  private outcome: Outcome | undefined;
  private firstEventAt = -1;
  private lastEventAt = -1;
  private firstOutputAt = -1;
  private lastOutputAt = -1;
  private outputChunks = 0;
  private gapSumMs = 0;
  private gapMaxMs = 0;
  private readonly offsetsUs: number[] = [];
  private readonly maxOffsets: number;
  private content: string | undefined;
  private bytesReceived = 0;
  private ended = false;
  private readonly timeout: NodeJS.Timeout | undefined;

  constructor(
    private readonly recorder: Recorder,
    private readonly start: ResponseStart,
  ) {
    this.maxOffsets = recorder.config.maxTokenOffsets;
    const timeoutMs = recorder.config.responseTimeoutMs;
    if (timeoutMs > 0) {
      // unref: a forgotten stream must not keep the application alive.
      this.timeout = setTimeout(() => this.end(OUTCOME.TIMEOUT, performance.now()), timeoutMs).unref();
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Any event of this response arrived (control or output). */
  onEvent(at: number, bytes: number): void {
    if (this.firstEventAt < 0) this.firstEventAt = at;
    this.lastEventAt = at;
    this.bytesReceived += bytes;
  }

  /** An output-carrying event arrived; call after onEvent. */
  onOutput(at: number): void {
    const n = this.outputChunks++;
    if (n === 0) {
      this.firstOutputAt = at;
    } else {
      const gap = at - this.lastOutputAt;
      this.gapSumMs += gap;
      if (gap > this.gapMaxMs) this.gapMaxMs = gap;
    }
    this.lastOutputAt = at;
    if (n < this.maxOffsets) this.offsetsUs.push(Math.round((at - this.start.sentAt) * 1000));
  }

  onControl(control: ControlEvent): void {
    if (control.responseId !== undefined) this.responseId ??= control.responseId;
    if (control.model !== undefined) this.model = control.model;
    if (control.inputTokens !== undefined) this.inputTokens = control.inputTokens;
    if (control.outputTokens !== undefined) this.outputTokens = control.outputTokens;
    if (control.finishReasons !== undefined) this.finishReasons = control.finishReasons;
    // The first verdict wins: a stop reason is more telling than the message_stop or [DONE] after it.
    if (control.outcome !== undefined) this.outcome ??= control.outcome;
  }

  get hasOutcome(): boolean {
    return this.outcome !== undefined;
  }

  appendContent(text: string | undefined): void {
    if (text === undefined) return;
    const current = this.content ?? '';
    const room = this.recorder.config.maxContentBytes - current.length;
    if (room > 0) this.content = current + (text.length > room ? text.slice(0, room) : text);
  }

  /** Ends the response once; `outcome` applies only when no event already decided it. */
  end(outcome: Outcome, at: number): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timeout);
    this.outcome ??= outcome;
    if (this.lastEventAt < 0) this.lastEventAt = at;
    try {
      this.emit();
    } catch (err) {
      this.recorder.diag.error('failed to record response span', err);
    }
  }

  private emit(): void {
    const { recorder, start } = this;
    const { parser, connection } = start;
    const outcome = this.outcome ?? OUTCOME.COMPLETED;
    const durationMs = this.lastEventAt - start.sentAt;
    const gaps = this.recordedGaps();
    // What the request said; samplers see these (below), and the metrics carry them.
    const requestAttributes: Attributes = {
      [GEN_AI.OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_CHAT,
      [GEN_AI.PROVIDER_NAME]: parser.provider,
      [GEN_AI.REQUEST_MODEL]: start.request?.model,
      [PEER.SERVER_ADDRESS]: connection.serverAddress,
      [PEER.SERVER_PORT]: connection.serverPort,
      [ATTR_TRANSPORT]: connection.transport,
    };
    const errorType = FAILED_OUTCOMES.has(outcome) ? outcome : undefined;
    const metricAttributes: Attributes = Object.assign({ [GEN_AI.RESPONSE_MODEL]: this.model }, requestAttributes);
    if (errorType) metricAttributes[ATTR_ERROR_TYPE] = errorType;

    // The response's own attributes; the request's are the span's from its start (below).
    const attributes: Attributes = {
      [ATTR_CONNECTION_ID]: connection.id,
      [PEER.URL_FULL]: start.url,
      [GEN_AI.RESPONSE_MODEL]: this.model,
      [GEN_AI.RESPONSE_ID]: this.responseId,
      [GEN_AI.USAGE_INPUT_TOKENS]: this.inputTokens,
      [GEN_AI.USAGE_OUTPUT_TOKENS]: this.outputTokens,
      [GEN_AI.RESPONSE_FINISH_REASONS]: this.finishReasons,
      [RESPONSE.CONNECTION_REUSED]: start.reused,
      [RESPONSE.REQUEST_SENT_TIME_MS]: wallClock(start.sentAt),
      [RESPONSE.DURATION_MS]: durationMs,
      [RESPONSE.OUTPUT_CHUNKS]: this.outputChunks,
      [RESPONSE.OUTCOME]: outcome,
      [RESPONSE.BYTES_SENT]: start.bytesSent,
      [RESPONSE.BYTES_RECEIVED]: this.bytesReceived,
      [ATTR_ERROR_TYPE]: errorType,
    };
    if (this.firstEventAt >= 0) attributes[RESPONSE.TTFB_MS] = this.firstEventAt - start.sentAt;
    if (this.outputChunks > 0) {
      const ttftMs = this.firstOutputAt - start.sentAt;
      attributes[RESPONSE.TTFT_MS] = ttftMs;
      attributes[GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK] = ttftMs / 1000;
      attributes[RESPONSE.TOKEN_OFFSETS_US] = this.offsetsUs;
      const generationMs = this.lastOutputAt - this.firstOutputAt;
      if (generationMs > 0) {
        attributes[RESPONSE.TOKENS_PER_SECOND] = ((this.outputTokens ?? this.outputChunks) * 1000) / generationMs;
      }
    }
    if (gaps.length > 0) {
      attributes[RESPONSE.ITL_MEAN_MS] = this.gapSumMs / (this.outputChunks - 1);
      attributes[RESPONSE.ITL_P50_MS] = percentile(gaps, 0.5);
      attributes[RESPONSE.ITL_P99_MS] = percentile(gaps, 0.99);
      attributes[RESPONSE.ITL_MAX_MS] = this.gapMaxMs;
    }
    if (recorder.config.captureContent) this.addContent(attributes);

    // Before the span: its processors are the first code of others' that runs here.
    this.recordMetrics(metricAttributes, durationMs, gaps);

    const model = this.model ?? start.request?.model;
    // Samplers see what a span started as the request left would carry: the request's
    // attributes (the GenAI conventions' sampling-relevant ones among them). The response's
    // are set on a recording span only, and checked once: given to startSpan, every
    // attribute is checked and copied three times by the SDK, the token offsets included.
    const span = recorder.tracer.startSpan(
      model ? `${GEN_AI_OPERATION_NAME_VALUE_CHAT} ${model}` : GEN_AI_OPERATION_NAME_VALUE_CHAT,
      {
        kind: SpanKind.CLIENT,
        startTime: wallClock(start.sentAt),
        attributes: Object.assign({ [ATTR_KIND]: KIND.RESPONSE, [ATTR_API]: parser.api }, requestAttributes),
      },
      start.parentContext,
    );
    if (!span.isRecording()) {
      span.end();
      return;
    }
    span.setAttributes(attributes);
    if (recorder.config.tokenEvents) {
      const sentWall = wallClock(start.sentAt);
      this.offsetsUs.forEach((offset, index) => span.addEvent('gen_ai.output.chunk', { index }, sentWall + offset / 1000));
    }
    if (errorType) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    span.end(wallClock(this.lastEventAt));
  }

  /**
   * Inter-chunk gaps between the recorded offsets, sorted, in ms: a view of a buffer shared
   * by every response (a fresh Float64Array of a response's size is an off-heap allocation,
   * several µs), so it is read before anything else can end a response.
   */
  private recordedGaps(): Float64Array {
    const offsets = this.offsetsUs;
    const count = Math.max(0, offsets.length - 1);
    if (gapScratch.length < count) gapScratch = new Float64Array(Math.max(count, gapScratch.length * 2));
    const gaps = gapScratch.subarray(0, count);
    for (let i = 1; i < offsets.length; i++) gaps[i - 1] = (offsets[i] - offsets[i - 1]) / 1000;
    return gaps.sort();
  }

  private addContent(attributes: Attributes): void {
    const input = this.start.request?.input;
    if (input !== undefined) {
      attributes[ATTR_GEN_AI_INPUT_MESSAGES] = input.slice(0, this.recorder.config.maxContentBytes);
    }
    if (this.content !== undefined) {
      attributes[ATTR_GEN_AI_OUTPUT_MESSAGES] = JSON.stringify([
        { role: 'assistant', parts: [{ type: 'text', content: this.content }] },
      ]);
    }
  }

  private recordMetrics(attributes: Attributes, durationMs: number, sortedGapsMs: Float64Array): void {
    const { instruments } = this.recorder;
    instruments.operationDuration.record(durationMs / 1000, attributes);
    if (this.inputTokens !== undefined) {
      instruments.tokenUsage.record(this.inputTokens, Object.assign({ [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT }, attributes));
    }
    if (this.outputTokens !== undefined) {
      instruments.tokenUsage.record(this.outputTokens, Object.assign({ [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT }, attributes));
    }
    if (this.outputChunks > 0) {
      instruments.timeToFirstChunk.record((this.firstOutputAt - this.start.sentAt) / 1000, attributes);
    }
    if (this.recorder.config.timePerOutputChunkMetric) {
      for (const gap of sortedGapsMs) instruments.timePerOutputChunk.record(gap / 1000, attributes);
    }
  }
}

