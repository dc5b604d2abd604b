/*
 * Login rate limiting: per address and in total, in one-minute windows, with a bounded
 * memory of addresses, on a fake clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientAddress, createRateLimiter, loginRateLimited, LOGIN_ATTEMPTS_PER_MINUTE } from '../rate-limit';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('ten attempts a minute per address; the eleventh is refused with the seconds left; the next window allows again', () => {
  const time = clock();
  const limiter = createRateLimiter({ now: time.now });
  for (let i = 0; i < 10; i++) assert.deepEqual(limiter.attempt('1.2.3.4'), { allowed: true });
  time.advance(15_000);
  assert.deepEqual(limiter.attempt('1.2.3.4'), { allowed: false, retryAfterSeconds: 45 });
  assert.deepEqual(limiter.attempt('5.6.7.8'), { allowed: true }, 'another address is not affected');
  time.advance(45_000);
  assert.deepEqual(limiter.attempt('1.2.3.4'), { allowed: true });
});

test('a successful login clears its address; a total limit caps addresses made up by the client', () => {
  const time = clock();
  const limiter = createRateLimiter({ now: time.now, perClient: 3, total: 5 });
  for (let i = 0; i < 3; i++) limiter.attempt('admin');
  assert.equal(limiter.attempt('admin').allowed, false);
  limiter.succeeded('admin');
  assert.equal(limiter.attempt('admin').allowed, true);
  // Four allowed so far; one more from anywhere reaches the total of five.
  assert.equal(limiter.attempt('10.0.0.1').allowed, true);
  assert.equal(limiter.attempt('10.0.0.2').allowed, false, 'over the total');
});

test('memory holds at most maxClients addresses, forgetting the oldest', () => {
  const time = clock();
  const limiter = createRateLimiter({ now: time.now, perClient: 1, total: 1e9, maxClients: 100 });
  limiter.attempt('first');
  assert.equal(limiter.attempt('first').allowed, false);
  for (let i = 0; i < 100; i++) limiter.attempt(`addr-${i}`);
  assert.equal(limiter.attempt('first').allowed, true, 'forgotten, so counted afresh');
});

test('the address is the last X-Forwarded-For entry, else X-Real-IP', () => {
  assert.equal(clientAddress(new Headers({ 'x-forwarded-for': '6.6.6.6, 10.0.0.1 , 192.168.1.9' })), '192.168.1.9');
  assert.equal(clientAddress(new Headers({ 'x-real-ip': ' 7.7.7.7 ' })), '7.7.7.7');
  assert.equal(clientAddress(new Headers()), 'unknown');
});

test('loginRateLimited: the login action gets a message once the address is over the limit', () => {
  const headers = new Headers({ 'x-forwarded-for': '203.0.113.7' });
  for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE; i++) assert.equal(loginRateLimited(headers), undefined);
  assert.match(loginRateLimited(headers) ?? '', /^Too many sign-in attempts\. Try again in \d+ s\.$/);
});
