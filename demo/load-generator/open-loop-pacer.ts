import { performance } from 'node:perf_hooks';

/**
 * Releases request slots at a fixed rate for a fixed time, whether or not earlier requests
 * have finished (open-loop pacing), so a slow server shows up as latency and backlog rather
 * than as a politely reduced request rate. Slots not yet taken by a free virtual user pile up
 * in `backlog` and are handed out as soon as users free up; those still waiting when the time
 * is up are `unsent`.
 */
export class OpenLoopPacer {
  readonly #intervalMs: number;
  /** Slots in the whole run: one at t = 0 and one every interval before the end. */
  readonly #total: number;
  readonly #startedAt = performance.now();
  #issued = 0;
  #unsent: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #endTimer: NodeJS.Timeout | null;
  readonly #waiting: ((go: boolean) => void)[] = [];

  /** `durationMs` may be Infinity: the pacer then runs until `stop`. */
  constructor(ratePerSecond: number, durationMs: number) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be positive, got ${ratePerSecond}`);
    this.#intervalMs = 1000 / ratePerSecond;
    this.#total = Math.ceil(durationMs / this.#intervalMs);
    this.#endTimer = Number.isFinite(durationMs) ? setTimeout(() => this.stop(), durationMs) : null;
  }

  /** Slots due by now. */
  #due(): number {
    return Math.min(this.#total, Math.floor((performance.now() - this.#startedAt) / this.#intervalMs) + 1);
  }

  /** Slots already due that no virtual user has taken yet. */
  get backlog(): number {
    return this.#unsent ?? this.#due() - this.#issued;
  }

  /** Once stopped: slots that fell due but never went out because every user was busy. */
  get unsent(): number {
    return this.#unsent ?? 0;
  }

  /** Resolves true when this caller may send its next request, false once the pacer stops. */
  next(): Promise<boolean> {
    if (this.#unsent !== null) return Promise.resolve(false);
    if (this.#issued < this.#due()) {
      this.#issued++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#arm();
    });
  }

  stop(): void {
    if (this.#unsent !== null) return;
    this.#unsent = this.#due() - this.#issued;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#endTimer !== null) clearTimeout(this.#endTimer);
    for (const resolve of this.#waiting.splice(0)) resolve(false);
  }

  #arm(): void {
    if (this.#timer !== null || this.#waiting.length === 0 || this.#issued >= this.#total) return;
    const nextDueAt = this.#startedAt + this.#issued * this.#intervalMs;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const due = this.#due();
      while (this.#waiting.length > 0 && this.#issued < due) {
        this.#issued++;
        this.#waiting.shift()!(true);
      }
      this.#arm();
    }, Math.max(0, Math.ceil(nextDueAt - performance.now())));
  }
}
