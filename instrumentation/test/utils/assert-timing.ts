import assert from 'node:assert/strict';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { RESPONSE } from '../../src/contract.ts';
import type { SentResponse, TokenSchedule } from './mock-model-server.ts';

/** Recorded arrivals trail the server's writes by the loopback hop; more than this is a timing bug. */
export const DELIVERY_TOLERANCE_MS = 25;
/** Against the injected schedule the server's own timer lateness adds in; a loaded machine can add tens of ms. */
export const SCHEDULE_TOLERANCE_MS = 60;

/** Token arrival times the span recorded, as performance.now() values. */
export function recordedTokenTimes(span: ReadableSpan): number[] {
  const sentWall = span.attributes[RESPONSE.REQUEST_SENT_TIME_MS] as number;
  const offsets = span.attributes[RESPONSE.TOKEN_OFFSETS_US] as number[];
  return offsets.map((us) => sentWall + us / 1000 - performance.timeOrigin);
}

/**
 * Every token was recorded when it arrived: no earlier than the server wrote it and at most
 * the delivery tolerance later; TTFT and each gap match the injected schedule.
 */
export function assertMatchesSchedule(span: ReadableSpan, sent: SentResponse, schedule: TokenSchedule): void {
  const recorded = recordedTokenTimes(span);
  assert.equal(recorded.length, schedule.tokens.length, 'one offset per token');
  assert.equal(span.attributes[RESPONSE.OUTPUT_CHUNKS], schedule.tokens.length);
  recorded.forEach((at, i) => {
    const lag = at - sent.tokenSentAt[i];
    // Offsets are rounded to whole microseconds.
    assert.ok(lag > -0.01 && lag < DELIVERY_TOLERANCE_MS, `token ${i} recorded ${lag.toFixed(3)} ms after it was sent`);
  });
  const ttft = span.attributes[RESPONSE.TTFT_MS] as number;
  assert.ok(Math.abs(ttft - schedule.ttftMs) < SCHEDULE_TOLERANCE_MS, `TTFT ${ttft} vs injected ${schedule.ttftMs}`);
  for (let i = 1; i < recorded.length; i++) {
    const gap = recorded[i] - recorded[i - 1];
    const sentGap = sent.tokenSentAt[i] - sent.tokenSentAt[i - 1];
    assert.ok(Math.abs(gap - sentGap) < DELIVERY_TOLERANCE_MS, `gap ${i}: ${gap.toFixed(3)} ms recorded vs ${sentGap.toFixed(3)} ms sent`);
    assert.ok(Math.abs(gap - schedule.gapsMs[i - 1]) < SCHEDULE_TOLERANCE_MS, `gap ${i}: ${gap.toFixed(3)} ms vs injected ${schedule.gapsMs[i - 1]}`);
  }
}
