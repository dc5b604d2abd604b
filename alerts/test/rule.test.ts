import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeCondition, formatDuration, parseDuration, validateRule, type Env, type FieldError } from '../rule';
import { TTFT_RULE } from './support';

function errorsOf(input: unknown, env: Env = {}): FieldError[] {
  const validation = validateRule(input, env);
  assert.equal(validation.ok, false, 'expected the rule to be rejected');
  return validation.ok ? [] : validation.errors;
}

describe('validateRule', () => {
  test('normalises a valid rule: durations to seconds, thresholds to the metric unit, webhooks to targets', () => {
    const validation = validateRule(
      { ...TTFT_RULE, threshold: '0.3s', window: '5m', pending: '1m30s', webhooks: ['https://hooks.example/a', { url: 'http://h.example/b', format: 'slack' }] },
      {},
    );
    assert.deepEqual(validation, {
      ok: true,
      rule: {
        name: 'websocket ttft p99', metric: 'ttft', statistic: 'p99', comparison: '>', threshold: 300,
        windowSeconds: 300, pendingSeconds: 90, minResponses: 0, filters: { transport: 'websocket' },
        webhooks: [{ url: 'https://hooks.example/a', format: 'json' }, { url: 'http://h.example/b', format: 'slack' }],
        enabled: true,
      },
    });
    assert.equal(describeCondition(validation.ok ? validation.rule : (undefined as never)), 'TTFT p99 > 300 ms over 5m (transport=websocket)');
  });

  test('a minimum of responses is a whole number, stated with the condition, and not for a rule on traffic itself', () => {
    const validation = validateRule({ ...TTFT_RULE, minResponses: 20 }, {});
    assert.ok(validation.ok);
    assert.equal(validation.rule.minResponses, 20);
    assert.equal(describeCondition(validation.rule), 'TTFT p99 > 300 ms over 1m (transport=websocket), from 20 responses');
    for (const minResponses of [-1, 2.5, '20']) {
      assert.deepEqual(errorsOf({ ...TTFT_RULE, minResponses }), [{ field: 'minResponses', message: 'must be a whole number of responses, 0 or more' }]);
    }
    assert.deepEqual(errorsOf({ ...TTFT_RULE, metric: 'responses_per_second', statistic: 'rate', threshold: 1, minResponses: 5 }), [
      { field: 'minResponses', message: 'does not apply to responses/s: a rule on traffic must see it fall to nothing' },
    ]);
  });

  test('a metric with one statistic needs none, and a percentage reads as one', () => {
    const validation = validateRule({ name: 'errors', metric: 'error_rate', comparison: '>=', threshold: '5%', window: 600 }, {});
    assert.ok(validation.ok);
    assert.equal(validation.rule.statistic, 'rate');
    assert.equal(validation.rule.threshold, 5);
  });

  test('reports every bad field by name with a message that says what is expected', () => {
    const errors = errorsOf({
      name: ' ',
      metric: 'ttft',
      statistic: 'rate',
      comparison: '=>',
      threshold: 'fast',
      window: '30s',
      pending: 'soon',
      filters: { transport: 'carrier-pigeon', region: 'eu' },
      webhooks: ['ftp://example.com/x', { url: 'https://ok.example', format: 'teams' }],
      enabled: 'yes',
      treshold: 300,
    });
    assert.deepEqual(errors, [
      { field: 'treshold', message: 'unknown field' },
      { field: 'name', message: 'is required' },
      { field: 'statistic', message: 'TTFT supports p50, p90, p95, p99, avg, max' },
      { field: 'comparison', message: 'must be one of >, >=, <, <=' },
      { field: 'threshold', message: 'must be a number, optionally with its unit ("300ms", "5%")' },
      { field: 'window', message: 'must be at least 1m' },
      { field: 'pending', message: 'must be a duration such as "30s", "5m", "1h" or a number of seconds' },
      { field: 'filters.transport', message: 'must be one of websocket, sse, http' },
      { field: 'filters.region', message: 'unknown filter; use service, model or transport' },
      { field: 'webhooks[0].url', message: 'must be an http or https URL' },
      { field: 'webhooks[1].format', message: 'must be one of json, slack' },
      { field: 'enabled', message: 'must be true or false' },
    ]);
  });

  test('a unit that does not fit the metric is rejected on the unit field', () => {
    assert.deepEqual(errorsOf({ ...TTFT_RULE, threshold: '5%' }), [{ field: 'unit', message: 'this metric is measured in ms (or s)' }]);
    assert.deepEqual(errorsOf({ ...TTFT_RULE, threshold: -1 }), [{ field: 'threshold', message: 'must not be negative' }]);
  });

  test('connection overhead cannot be filtered by model, which connections do not record', () => {
    const errors = errorsOf({ name: 'handshake', metric: 'connection_overhead', statistic: 'avg', comparison: '>', threshold: 50, window: '5m', filters: { model: 'gpt-x' } });
    assert.deepEqual(errors.map((e) => e.field), ['filters.model']);
  });

  test('webhook hosts outside STREAMSCOPE_WEBHOOK_ALLOWLIST are refused; listed hosts and subdomain patterns pass', () => {
    const env = { STREAMSCOPE_WEBHOOK_ALLOWLIST: 'hooks.slack.com, *.corp.example' };
    const webhooks = ['https://hooks.slack.com/services/x', 'https://alerts.corp.example/in', 'https://evil.example/'];
    assert.deepEqual(errorsOf({ ...TTFT_RULE, webhooks }, env), [
      { field: 'webhooks[2].url', message: 'host evil.example is not in STREAMSCOPE_WEBHOOK_ALLOWLIST' },
    ]);
  });

  test('a non-object is rejected as a whole', () => {
    assert.deepEqual(errorsOf('ttft > 300'), [{ field: '', message: 'a rule must be a JSON object' }]);
  });
});

test('durations parse from seconds and unit strings and format back', () => {
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration(45), 45);
  assert.equal(parseDuration('2d'), 172_800);
  assert.equal(parseDuration('5 minutes'), null);
  assert.equal(formatDuration(5400), '1h30m');
  assert.equal(formatDuration(0), '0s');
});
