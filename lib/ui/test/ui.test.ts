import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributeText, differenceSentence, formatTick, formatValue, intervalText, outcomeClass } from '../format';
import { parseViewParams, RANGES, withParams } from '../view-params';

test('figures carry their unit, and missing ones a dash', () => {
  assert.equal(formatValue(147.25, 'ms'), '147 ms');
  assert.equal(formatValue(12, 'ms'), '12.0 ms');
  assert.equal(formatValue(12_500, 'ms'), '12.5 s');
  assert.equal(formatValue(60_000, 'ms'), '1.0 min');
  assert.equal(formatValue(5_400_000, 'ms'), '1.5 h');
  assert.equal(formatValue(0.0238, 'ratio'), '2.38 %');
  assert.equal(formatValue(2300, 'bytes'), '2.2 KiB');
  assert.equal(formatValue(1234, 'count'), '1,234');
  assert.equal(formatValue(0.117, 'responses/s'), '0.12 responses/s');
  assert.equal(formatValue(null, 'ms'), '—');
  assert.equal(formatTick(0.05, 'ratio'), '5');
  assert.equal(formatTick(16, 'ms'), '16');
});

test('an outcome is styled as success, error, or neither', () => {
  assert.equal(outcomeClass({ status: 'ok', outcome: 'completed' }), 'ok');
  assert.equal(outcomeClass({ status: 'ok', outcome: null }), 'ok', 'a peer span without an outcome');
  assert.equal(outcomeClass({ status: 'ok', outcome: 'aborted' }), 'ended');
  assert.equal(outcomeClass({ status: 'ok', outcome: 'incomplete' }), 'ended');
  assert.equal(outcomeClass({ status: 'error', outcome: 'connection_lost' }), 'error');
});

test('differences are stated in words', () => {
  assert.equal(differenceSentence('websocket', 'sse', 'TTFT p50', { percent: -38.2, improved: true, significant: true }), 'WebSocket TTFT p50 is 38 % lower than SSE.');
  assert.equal(differenceSentence('websocket', 'http', 'responses/s', { percent: 66.7, improved: true, significant: null }), 'WebSocket responses/s is 67 % higher than HTTP.');
  assert.equal(differenceSentence('websocket', 'sse', 'error rate', { percent: 0.2, improved: null, significant: false }), 'WebSocket error rate is the same as SSE.');
  assert.equal(differenceSentence('websocket', 'sse', 'TTFT p50', { percent: 1.6, improved: null, significant: true }), 'WebSocket TTFT p50 is about the same as SSE (2 % higher).');
  assert.equal(differenceSentence('websocket', 'sse', 'TTFT p50', { percent: -2.4, improved: true, significant: true }), 'WebSocket TTFT p50 is 2 % lower than SSE.');
  assert.equal(
    differenceSentence('websocket', 'sse', 'TTFT p99', { percent: -12.4, improved: null, significant: false }),
    'WebSocket TTFT p99 is 12 % lower than SSE, not a clear difference with these samples.',
  );
  assert.match(differenceSentence('websocket', 'sse', 'TTFT p50', { percent: null, improved: null, significant: null }), /cannot be compared/);
  assert.equal(intervalText([121.5, 128.25], 'ms'), '95 % interval: 122 ms to 128 ms');
  assert.equal(intervalText([900, Infinity], 'ms'), '95 % interval: 900 ms or more (too few responses to bound it above)');
});

test('view params resolve ranges against now and fall back on bad input', () => {
  const now = new Date('2026-11-27T12:00:00Z');
  const sixHours = parseViewParams({ range: '6h', service: 'chat', transport: '' }, now);
  assert.equal(sixHours.range, '6h');
  assert.equal(now.getTime() - sixHours.filter.from.getTime(), RANGES['6h']);
  assert.equal(sixHours.filter.service, 'chat');
  assert.equal(sixHours.filter.transport, undefined);
  assert.equal(sixHours.refresh, true);

  const custom = parseViewParams({ range: 'custom', from: '2026-11-01T00:00:00Z', to: '2026-11-02T00:00:00Z', refresh: 'off' }, now);
  assert.equal(custom.range, 'custom');
  assert.equal(custom.filter.to.toISOString(), '2026-11-02T00:00:00.000Z');
  assert.equal(custom.refresh, false);

  assert.equal(parseViewParams({ range: 'custom', from: '2026-11-03T00:00:00Z', to: '2026-11-02T00:00:00Z' }, now).range, '1h');
  assert.equal(parseViewParams({ range: 'forever' }, now).range, '1h');
});

test('withParams replaces and removes params', () => {
  assert.equal(withParams({ range: '1h', page: '3' }, { page: undefined, sort: 'ttft' }), '?range=1h&sort=ttft');
  assert.equal(withParams(new URLSearchParams('a=1'), { a: '' }), '');
});

test('attribute values are listed without float noise, and otherwise as stored', () => {
  assert.equal(attributeText(132.9272490000003), '132.927249');
  assert.equal(attributeText(0.23423392400000012), '0.234233924');
  assert.equal(attributeText(15.532766810810859), '15.5327668108');
  assert.equal(attributeText(1.5e-9), '1.5e-9');
  assert.equal(attributeText(10366), '10366');
  assert.equal(attributeText(Number.NaN), 'NaN');
  assert.equal(attributeText(new Date(Date.UTC(2026, 10, 27))), '2026-11-27T00:00:00.000Z');
  assert.equal(attributeText(['completed']), '["completed"]');
  assert.equal(attributeText(true), 'true');
});
