import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { describeEachDatabase } from '../../test/support/databases';
import { createAlertsApi, type AlertsApi, type EventView, type RuleView } from '../api';
import { evaluateRules } from '../evaluate';
import { clearTables, Clock, ingest, responsesAt, startReceiver, TTFT_RULE, type Receiver } from './support';

describeEachDatabase('alerts API', (database) => {
  let api: AlertsApi;
  let clock: Clock;
  let receiver: Receiver | undefined;

  beforeEach(async () => {
    await clearTables(database().store);
    clock = new Clock();
    api = createAlertsApi(database().store, { env: {}, now: clock.now });
  });
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  const created = async (body: object = TTFT_RULE): Promise<RuleView> => {
    const response = await api.create({ body });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return (response.body as { rule: RuleView }).rule;
  };

  test('creates a rule and returns it in the shape it was written, with its state', async () => {
    const rule = await created();
    assert.deepEqual(
      { ...rule, id: 0, createdAt: '', updatedAt: '' },
      {
        id: 0, name: 'websocket ttft p99', metric: 'ttft', statistic: 'p99', comparison: '>', threshold: 300, unit: 'ms',
        window: '1m', pending: '0s', minResponses: 0, filters: { transport: 'websocket' }, webhooks: [], enabled: true,
        description: 'TTFT p99 > 300 ms over 1m (transport=websocket)',
        state: 'inactive', stateSince: null, lastValue: null, lastResponses: null, lastEvaluatedAt: null, createdAt: '', updatedAt: '',
      },
    );
    assert.deepEqual(await api.get({ id: String(rule.id) }), { status: 200, body: { rule } });
    assert.deepEqual(await api.list(), { status: 200, body: { rules: [rule] } });
  });

  test('a bad rule is a 400 naming each field; nothing is stored', async () => {
    const response = await api.create({ body: { ...TTFT_RULE, threshold: 'high', window: '5 minutes' } });
    assert.deepEqual(response, {
      status: 400,
      body: {
        error: 'invalid alert rule',
        errors: [
          { field: 'threshold', message: 'must be a number, optionally with its unit ("300ms", "5%")' },
          { field: 'window', message: 'must be a duration such as "30s", "5m", "1h" or a number of seconds' },
        ],
      },
    });
    assert.deepEqual((await api.list()).body, { rules: [] });
  });

  test('a second rule with the same name is a conflict on the name field', async () => {
    await created();
    const response = await api.create({ body: TTFT_RULE });
    assert.equal(response.status, 409);
    assert.deepEqual((response.body as { errors: unknown }).errors, [{ field: 'name', message: 'a rule named "websocket ttft p99" already exists' }]);
  });

  test('unknown and malformed ids are 404 for every handler', async () => {
    for (const id of ['999', 'abc', -1]) {
      for (const response of [await api.get({ id }), await api.update({ id, body: {} }), await api.remove({ id }), await api.history({ id }), await api.test({ id })]) {
        assert.equal(response.status, 404);
      }
    }
  });

  test('an update changes only the fields sent, validates the result, and a read rule can be sent back as is', async () => {
    const rule = await created();
    const updated = await api.update({ id: rule.id, body: { threshold: '250ms', pending: '2m' } });
    assert.equal(updated.status, 200);
    const view = (updated.body as { rule: RuleView }).rule;
    assert.equal(view.threshold, 250);
    assert.equal(view.pending, '2m');
    assert.equal(view.window, '1m');
    assert.equal(view.updatedAt, clock.now().toISOString());

    assert.equal((await api.update({ id: rule.id, body: view })).status, 200);
    const bad = await api.update({ id: rule.id, body: { comparison: 'above' } });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.body as { errors: { field: string }[] }).errors.map((e) => e.field), ['comparison']);
  });

  test('disabling a firing rule ends its firing, and the history says so', async () => {
    const rule = await created();
    await ingest(database().store, responsesAt(clock.recent(), 5, { ttftMs: 800 }));
    await evaluateRules(database().store.db, { now: clock.now() });
    assert.equal(((await api.get({ id: rule.id })).body as { rule: RuleView }).rule.state, 'firing');

    clock.advance(10);
    const disabled = await api.update({ id: rule.id, body: { enabled: false } });
    assert.equal((disabled.body as { rule: RuleView }).rule.state, 'inactive');
    const history = await api.history({ id: rule.id });
    assert.equal(history.status, 200);
    const events = (history.body as { events: EventView[] }).events;
    assert.deepEqual(events.map((e) => [e.fromState, e.toState]), [['firing', 'inactive'], ['inactive', 'firing']]);
    assert.ok(Math.abs(events[1].value! - 800) <= 8, 'the firing event keeps the value seen');
    assert.deepEqual((await api.history({ id: rule.id, limit: '1' })).body, { events: [events[0]] });
    assert.equal((await api.history({ id: rule.id, limit: '0' })).status, 400);
  });

  test('delete removes the rule and its history', async () => {
    const rule = await created();
    assert.deepEqual(await api.remove({ id: rule.id }), { status: 204, body: null });
    assert.equal((await api.get({ id: rule.id })).status, 404);
  });

  test('a test notification reaches the rule’s webhooks and reports each delivery', async () => {
    receiver = await startReceiver();
    const rule = await created({ ...TTFT_RULE, webhooks: [receiver.url] });
    const response = await api.test({ id: rule.id });
    assert.deepEqual(response, { status: 200, body: { ok: true, deliveries: [{ url: receiver.url, ok: true, status: 200, attempts: 1 }] } });
    assert.equal(receiver.requests[0].body.state, 'test');

    const silent = await created({ ...TTFT_RULE, name: 'no hooks' });
    assert.equal((await api.test({ id: silent.id })).status, 400);
  });
});
