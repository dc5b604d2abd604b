/*
 * The arrival time of bytes handed to JavaScript in the current turn of the event loop.
 *
 * libuv's poll returns every socket that became readable at once and then runs their read
 * callbacks one after another, each followed by its promise jobs. All those bytes were
 * waiting when the poll returned, so the clock read at the first callback is closer to
 * their arrival than each one's own reading, which is late by everything that ran in
 * between: the other streams' parsing, the application's listeners, a garbage collection.
 *
 * The turn is told by libuv's own iteration counter (`uvMetricsInfo.loopCount`, counted
 * just before each poll), read in about 40 ns: nothing is scheduled to mark the turn's
 * end. (An immediate per turn did the same at about 0.9 µs a turn, which with a frame or
 * two per turn was most of the instrumentation's cost per WebSocket message.)
 *
 * Bytes handed over outside a poll — a stream the application paused and resumes, `ws`
 * emitting from immediates — share the reading taken earlier in the same turn; the `ws`
 * transport takes its own reading in that mode.
 */
import { performance } from 'node:perf_hooks';

/** What the clock reads of `performance.nodeTiming`: the counter is absent before Node 20.18 and 22.8. */
export interface LoopTiming {
  uvMetricsInfo?: { loopCount: number };
}

const countsIterations = (timing: LoopTiming): timing is Required<LoopTiming> => timing.uvMetricsInfo !== undefined;

/**
 * A clock that returns the first reading taken in the current loop iteration. Without the
 * iteration counter every call takes its own reading: later than shared, never wrong.
 */
export function turnClock(timing: LoopTiming): () => number {
  if (!countsIterations(timing)) return () => performance.now();
  let turn = -1;
  let turnStart = 0;
  return () => {
    const count = timing.uvMetricsInfo.loopCount;
    if (count !== turn) {
      turn = count;
      turnStart = performance.now();
    }
    return turnStart;
  };
}

export const arrivalTime = turnClock(performance.nodeTiming);
