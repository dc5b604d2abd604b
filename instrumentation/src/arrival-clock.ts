/**
 * The arrival time of bytes handed to JavaScript in the current turn of the event loop.
 *
 * libuv's poll returns every socket that became readable at once and then runs their read
 * callbacks one after another, each followed by its promise jobs. All those bytes were
 * waiting when the poll returned, so the clock read at the first callback is closer to
 * their arrival than each one's own reading, which is late by everything that ran in
 * between: the other streams' parsing, the application's listeners, a garbage collection.
 * The reading is shared until the check phase that follows the poll (an immediate), so
 * the next turn takes a fresh one; that costs about 60 ns per turn that reads it.
 *
 * Bytes handed over outside a poll — a stream the application paused and resumes, `ws`
 * emitting from immediates — can share a reading taken earlier in the same turn; the `ws`
 * transport takes its own reading in that mode.
 */
let turnStart = -1;

const endTurn = (): void => {
  turnStart = -1;
};

export function arrivalTime(): number {
  if (turnStart < 0) {
    turnStart = performance.now();
    setImmediate(endTurn);
  }
  return turnStart;
}
