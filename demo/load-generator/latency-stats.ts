import type { StreamTiming } from './stream-timing.ts';

/** Nearest-rank percentile of an ascending array; null when there is nothing to rank. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function p50p99(values: number[]): { p50: number | null; p99: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

export interface TransportSummary {
  /** Responses that completed. */
  count: number;
  /** Responses that failed, by reason (`response.failed`, an HTTP error message, …). */
  errors: number;
  errorReasons: Record<string, number>;
  /** Client-side: from deciding to send (including any connection opened for it) to the first text delta. */
  ttftMs: { p50: number | null; p99: number | null };
  /** Client-side: from deciding to send to the terminal event. */
  endToEndMs: { p50: number | null; p99: number | null };
  responsesPerSecond: number;
  outputTokens: number;
}

/** The figures of the last progress interval. */
export interface IntervalFigures {
  count: number;
  errors: number;
  ttftP50Ms: number | null;
}

/**
 * Accumulates one transport's results. It keeps every latency (16 bytes per response) so the
 * summary's percentiles are exact; a run of hours at thousands of responses per second would
 * want a histogram instead.
 */
export class TransportStats {
  readonly #ttfts: number[] = [];
  readonly #endToEnds: number[] = [];
  readonly #errorReasons: Record<string, number> = {};
  #count = 0;
  #errors = 0;
  #errorsSeen = 0;
  #outputTokens = 0;
  #interval = { count: 0, errors: 0, ttfts: [] as number[] };

  /** `measured: false` (warm-up) feeds only the live progress figures, not the summary. */
  record(timing: StreamTiming, measured = true): void {
    const completed = timing.error === null;
    // A completed response without a token has no time to first token; it is not a zero.
    const ttft = completed && timing.tokenArrivals.length > 0 ? timing.tokenArrivals[0] - timing.sentAt : null;
    this.#interval[completed ? 'count' : 'errors']++;
    if (!completed) this.#errorsSeen++;
    if (ttft !== null) this.#interval.ttfts.push(ttft);
    if (!measured) return;
    if (timing.error !== null) {
      this.#errors++;
      this.#errorReasons[timing.error] = (this.#errorReasons[timing.error] ?? 0) + 1;
      return;
    }
    this.#count++;
    this.#outputTokens += timing.tokenArrivals.length;
    this.#endToEnds.push(timing.endedAt - timing.sentAt);
    if (ttft !== null) this.#ttfts.push(ttft);
  }

  takeInterval(): IntervalFigures {
    const { count, errors, ttfts } = this.#interval;
    this.#interval = { count: 0, errors: 0, ttfts: [] };
    return { count, errors, ttftP50Ms: p50p99(ttfts).p50 };
  }

  /** Every error so far, warm-up included, for the progress line. */
  get errorsSeen(): number {
    return this.#errorsSeen;
  }

  summarize(elapsedMs: number): TransportSummary {
    return {
      count: this.#count,
      errors: this.#errors,
      errorReasons: { ...this.#errorReasons },
      ttftMs: p50p99(this.#ttfts),
      endToEndMs: p50p99(this.#endToEnds),
      responsesPerSecond: elapsedMs > 0 ? this.#count / (elapsedMs / 1000) : 0,
      outputTokens: this.#outputTokens,
    };
  }
}
