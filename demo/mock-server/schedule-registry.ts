import { createScheduler, type ScheduleConfig, type TokenSchedule } from './schedule.ts';

/**
 * Assigns each response its schedule and remembers it by response id, so callers can compare
 * what they measured with what was injected. Only the most recent `capacity` are kept, which
 * bounds memory during a long demo run.
 */
export class ScheduleRegistry {
  readonly #next: () => TokenSchedule;
  readonly #byId = new Map<string, TokenSchedule>();
  readonly #capacity: number;

  constructor(seed: number, config: ScheduleConfig, capacity: number) {
    this.#next = createScheduler(seed, config);
    this.#capacity = capacity;
  }

  assign(responseId: string): TokenSchedule {
    const schedule = this.#next();
    this.#byId.set(responseId, schedule);
    if (this.#byId.size > this.#capacity) {
      // Maps iterate in insertion order: the first key is the oldest.
      const oldest = this.#byId.keys().next().value;
      if (oldest !== undefined) this.#byId.delete(oldest);
    }
    return schedule;
  }

  get(responseId: string): TokenSchedule | undefined {
    return this.#byId.get(responseId);
  }
}
