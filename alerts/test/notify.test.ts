import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { deliverWebhook, sendTestNotification, type DeliveryOptions, type Notification } from '../notify';
import { ruleRow, START, startReceiver, type Receiver } from './support';

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const firing = (): Notification => ({ rule: ruleRow(), state: 'firing', value: 412.34, responses: 80, at: new Date(START) });

/** Records the backoff waits instead of sleeping them. */
function recordingSleep() {
  const waits: number[] = [];
  const sleep: DeliveryOptions['sleep'] = async (ms) => {
    waits.push(ms);
  };
  return { waits, sleep };
}

describe('deliverWebhook', () => {
  test('retries a failing receiver with exponentially growing waits until it accepts', async () => {
    receiver = await startReceiver((n) => (n < 2 ? 503 : 200));
    const { waits, sleep } = recordingSleep();
    const delivery = await deliverWebhook({ url: receiver.url, format: 'json' }, firing(), { backoffMs: 100, retries: 3, sleep });
    assert.deepEqual(delivery, { url: receiver.url, ok: true, status: 200, attempts: 3 });
    assert.deepEqual(waits, [100, 200]);
    assert.equal(receiver.requests.length, 3);
  });

  test('gives up after the last retry and reports the last answer', async () => {
    receiver = await startReceiver(() => 500);
    const { waits, sleep } = recordingSleep();
    const delivery = await deliverWebhook({ url: receiver.url, format: 'json' }, firing(), { backoffMs: 50, retries: 2, sleep });
    assert.deepEqual(delivery, { url: receiver.url, ok: false, status: 500, error: 'HTTP 500', attempts: 3 });
    assert.deepEqual(waits, [50, 100]);
  });

  test('a client error is not retried: the same request would be refused again', async () => {
    receiver = await startReceiver(() => 404);
    const delivery = await deliverWebhook({ url: receiver.url, format: 'json' }, firing(), { sleep: recordingSleep().sleep });
    assert.equal(delivery.attempts, 1);
    assert.equal(delivery.status, 404);
  });

  test('a receiver that never answers times out on every attempt', async () => {
    receiver = await startReceiver(() => 'hang');
    const delivery = await deliverWebhook({ url: receiver.url, format: 'json' }, firing(), { timeoutMs: 50, retries: 1, sleep: recordingSleep().sleep });
    assert.deepEqual(delivery, { url: receiver.url, ok: false, error: 'timed out after 50 ms', attempts: 2 });
  });

  test('an unreachable receiver is reported with the network error', async () => {
    const closed = await startReceiver();
    await closed.close();
    const delivery = await deliverWebhook({ url: closed.url, format: 'json' }, firing(), { retries: 0 });
    assert.equal(delivery.ok, false);
    assert.match(delivery.error!, /ECONNREFUSED/);
  });

  test('the Slack format posts a { text } body with the summary', async () => {
    receiver = await startReceiver();
    await deliverWebhook({ url: receiver.url, format: 'slack' }, firing());
    assert.deepEqual(receiver.requests[0].body, {
      text: 'FIRING: websocket ttft p99 — value 412 ms; condition TTFT p99 > 300 ms over 1m (transport=websocket)',
    });
  });

  test('the JSON format carries the rule, state, value, responses, threshold, unit, time and summary', async () => {
    receiver = await startReceiver();
    await deliverWebhook({ url: receiver.url, format: 'json' }, { ...firing(), rule: ruleRow({ webhooks: [receiver.url] }) });
    const { body, headers } = receiver.requests[0];
    assert.equal(headers['content-type'], 'application/json');
    assert.deepEqual(Object.keys(body), ['rule', 'state', 'value', 'responses', 'threshold', 'unit', 'at', 'summary']);
    assert.equal(body.responses, 80);
    assert.deepEqual(body.rule, {
      id: 1, name: 'websocket ttft p99', metric: 'ttft', statistic: 'p99', comparison: '>', threshold: 300, unit: 'ms',
      window: '1m', pending: '0s', minResponses: 0, filters: { transport: 'websocket' }, enabled: true,
    });
    assert.equal(body.at, new Date(START).toISOString());
  });

  test('a rule held back by its minimum of responses says so, with the count, rather than "no data"', async () => {
    receiver = await startReceiver();
    const rule = ruleRow({ minResponses: 20, webhooks: [receiver.url] });
    await deliverWebhook({ url: receiver.url, format: 'json' }, { rule, state: 'resolved', value: null, responses: 3, at: new Date(START) });
    await deliverWebhook({ url: receiver.url, format: 'slack' }, { rule, state: 'resolved', value: null, responses: 0, at: new Date(START) });
    const [json, slack] = receiver.requests.map((request) => request.body);
    assert.equal(json.responses, 3);
    assert.equal(json.summary, 'RESOLVED: websocket ttft p99 — value too few responses (3 of 20); condition TTFT p99 > 300 ms over 1m (transport=websocket), from 20 responses');
    assert.equal(slack.text, 'RESOLVED: websocket ttft p99 — value no data; condition TTFT p99 > 300 ms over 1m (transport=websocket), from 20 responses');
  });

  test('a host removed from the allowlist after the rule was saved is not called', async () => {
    receiver = await startReceiver();
    const delivery = await deliverWebhook({ url: receiver.url, format: 'json' }, firing(), { env: { STREAMSCOPE_WEBHOOK_ALLOWLIST: 'hooks.slack.com' } });
    assert.deepEqual(delivery, { url: receiver.url, ok: false, error: 'host 127.0.0.1 is not in STREAMSCOPE_WEBHOOK_ALLOWLIST', attempts: 0 });
    assert.equal(receiver.requests.length, 0);
  });
});

test('sendTestNotification posts a test notification to every webhook of the rule, once each', async () => {
  receiver = await startReceiver((n) => (n === 0 ? 200 : 500));
  const rule = ruleRow({ webhooks: [receiver.url, { url: receiver.url, format: 'slack' }] });
  const deliveries = await sendTestNotification(rule);
  assert.deepEqual(deliveries.map((d) => [d.ok, d.attempts]), [[true, 1], [false, 1]]);
  assert.equal(receiver.requests.length, 2);
  assert.ok(receiver.requests.some((r) => r.body.state === 'test'));
  assert.ok(receiver.requests.some((r) => String(r.body.text).startsWith('TEST: websocket ttft p99 — value no data')));
});
