import { performance } from 'node:perf_hooks';
import type { TokenSchedule } from './schedule.ts';

/** What a protocol does at each point of a schedule; the playback owns all the timing. */
export interface StreamEncoder {
  /** Sent as soon as the request is accepted, before the time to first token elapses. */
  open(): void;
  token(index: number, text: string): void;
  fail(): void;
  complete(): void;
}

function sleepUntil(targetMs: number, signal: AbortSignal): Promise<boolean> {
  const delay = targetMs - performance.now();
  if (signal.aborted) return Promise.resolve(false);
  if (delay <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, delay);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Drives an encoder through a schedule. Each token is due at an absolute offset from
 * `startedAt`, so a late timer delays one token without pushing every later one back.
 * Resolves early, without calling the encoder again, once `signal` aborts.
 */
export async function playSchedule(
  schedule: TokenSchedule,
  startedAt: number,
  encoder: StreamEncoder,
  signal: AbortSignal,
): Promise<void> {
  encoder.open();
  let dueAt = startedAt + schedule.ttftMs;
  for (let index = 0; index < schedule.tokens.length; index++) {
    if (index > 0) dueAt += schedule.gapsMs[index - 1];
    if (!(await sleepUntil(dueAt, signal))) return;
    if (schedule.failAfterTokens === index) {
      encoder.fail();
      return;
    }
    encoder.token(index, schedule.tokens[index]);
  }
  encoder.complete();
}
