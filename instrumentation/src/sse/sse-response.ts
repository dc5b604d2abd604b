import { OUTCOME, type Outcome } from '../contract.ts';
import { EVENT_CLASS, type ProtocolParser, type Recorder } from '../internal-types.ts';
import type { ResponseTracker } from '../stream-tracker.ts';
import { SseLineSplitter } from './line-splitter.ts';

/**
 * Feeds one SSE response body, chunk by chunk as it is read, through the parser into its
 * response tracker. Every event in a chunk shares the chunk's arrival time; the first
 * chunk is the response's first byte.
 */
export class SseResponseObserver {
  private readonly splitter: SseLineSplitter;
  private chunkAt = 0;
  private events = 0;
  /** Read once per response rather than through the recorder's getters on every event. */
  private readonly captureContent: boolean;

  constructor(
    recorder: Recorder,
    private readonly parser: ProtocolParser,
    private readonly tracker: ResponseTracker,
  ) {
    this.captureContent = recorder.config.captureContent;
    this.splitter = new SseLineSplitter(recorder.config.maxEventBytes, (data, name) => this.onEvent(data, name));
  }

  onChunk(chunk: Uint8Array, at: number): void {
    this.chunkAt = at;
    this.tracker.onEvent(at, chunk.byteLength);
    this.splitter.push(chunk);
  }

  /** The body ended: normally, by an error, or by the application cancelling it or aborting the call. */
  finish(reason: 'end' | 'error' | 'abort', at: number, error?: unknown): void {
    if (reason === 'end') this.splitter.end();
    let outcome: Outcome = this.parser.endOfStreamOutcome;
    if (reason === 'abort' || (error instanceof Error && error.name === 'AbortError')) outcome = OUTCOME.ABORTED;
    else if (reason === 'error') outcome = OUTCOME.CONNECTION_LOST;
    // A body that ends after its terminal event ended normally whatever happens next.
    this.tracker.end(this.tracker.hasOutcome ? OUTCOME.COMPLETED : outcome, at);
  }

  private onEvent(data: string, eventName: string | undefined): void {
    const { parser, tracker } = this;
    const at = this.chunkAt;
    const eventClass = parser.classify(data, eventName);
    // The first event names the model and response id in every supported protocol.
    const first = this.events++ === 0;
    if (eventClass & EVENT_CLASS.CONTROL || first) {
      const control = parser.parseControl(data, eventName);
      if (control) tracker.onControl(control);
    }
    if (eventClass & EVENT_CLASS.OUTPUT) {
      tracker.onOutput(at);
      if (this.captureContent) tracker.appendContent(parser.outputText(data));
    }
  }
}
