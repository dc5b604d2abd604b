import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { turnClock, type LoopTiming } from '../src/arrival-clock.ts';

/**
 * An immediate set from the check phase runs in the next iteration's: two of them reach a
 * new iteration wherever the first was set (libuv counts iterations just before each poll).
 */
const nextIteration = async () => {
  await nextTurn();
  await nextTurn();
};

const busyWait = (ms: number) => {
  for (const until = performance.now() + ms; performance.now() < until; );
};

describe('arrival clock', () => {
  it('shares the first reading of a loop iteration and takes a new one in the next', async () => {
    const clock = turnClock(performance.nodeTiming);
    const first = clock();
    busyWait(2);
    assert.equal(clock(), first, 'same iteration, same reading');
    await nextIteration();
    const next = clock();
    assert.ok(next >= first + 2, `the next iteration reads the clock again (${next - first} ms later)`);
  });

  it('takes its own reading on every call where the iteration counter is missing', () => {
    const clock = turnClock({} satisfies LoopTiming);
    const first = clock();
    busyWait(2);
    assert.ok(clock() >= first + 2);
  });
});
