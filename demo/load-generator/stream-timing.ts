import { performance } from 'node:perf_hooks';

/** Client-side timing of one streamed response; all times are `performance.now()` values. */
export interface StreamTiming {
  responseId: string | null;
  sentAt: number;
  /** Arrival of each output-text delta, in order. The first one is the time to first token. */
  tokenArrivals: number[];
  endedAt: number;
  /** Null when the response completed; otherwise why it did not. */
  error: string | null;
}

/** Collects one response's timing from the event types both Responses transports share. */
export class StreamTimingRecorder {
  readonly tokenArrivals: number[] = [];
  responseId: string | null = null;

  /** `sentAt` defaults to now; pass an earlier time to charge a connection opened for this response. */
  constructor(readonly sentAt = performance.now()) {}

  /** Returns true once `type` ends the response. */
  observe(event: { type: string; response?: { id?: string } }): boolean {
    if (event.type === 'response.output_text.delta') {
      this.tokenArrivals.push(performance.now());
    } else if (event.type === 'response.created') {
      this.responseId = event.response?.id ?? null;
    }
    return event.type === 'response.completed' || event.type === 'response.failed' || event.type === 'error';
  }

  finish(error: string | null): StreamTiming {
    return { responseId: this.responseId, sentAt: this.sentAt, tokenArrivals: this.tokenArrivals, endedAt: performance.now(), error };
  }
}

/** The error a terminal event stands for, or null when it completed the response. */
export function terminalError(event: { type: string }): string | null {
  return event.type === 'response.completed' ? null : event.type;
}
