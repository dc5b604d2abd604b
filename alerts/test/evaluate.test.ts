import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { asc } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { RELATIVE_ACCURACY } from '../../db/histogram';
import { alertEvents } from '../../db/schema';
import { describeEachDatabase } from '../../test/support/databases';
import { evaluationWindow, readRule } from '../evaluate';
import { startAlertEvaluator, type AlertEvaluator } from '../evaluator';
import type { RuleDefinition, RuleInput } from '../rule';
import { insertRule } from '../rules-store';
import { clearTables, Clock, connectionAt, definition, ingest, responsesAt, startReceiver, type Receiver } from './support';

const valueOf = async (db: Db, rule: RuleDefinition, now: Date) => (await readRule(db, rule, now)).value;

const close = (actual: number | null, expected: number, tolerance = RELATIVE_ACCURACY) =>
  assert.ok(actual !== null && Math.abs(actual - expected) <= expected * tolerance, `${actual} is not within ${tolerance * 100}% of ${expected}`);

test('the window starts at the minute holding now − window, and rates divide by what it covers', () => {
  const window = evaluationWindow(300, new Date(Date.UTC(2026, 0, 1, 12, 5, 30)));
  assert.equal(window.from.toISOString(), '2026-01-01T12:00:00.000Z');
  assert.equal(window.seconds, 330);
});

describeEachDatabase('alert rule values', (database) => {
  beforeEach(() => clearTables(database().store));

  test('every metric reads its rollups (or connections) over the window and the filters only', async () => {
    const { store } = database();
    const clock = new Clock();
    const now = clock.now();
    const recent = new Date(now.getTime() - 10_000);
    await ingest(
      store,
      [
        ...responsesAt(recent, 90, { ttftMs: 100, durationMs: 600 }),
        ...responsesAt(recent, 10, { ttftMs: 900, durationMs: 1500, status: 'error' }),
        // Outside the filter (another transport) and outside the window (an hour ago).
        ...responsesAt(recent, 50, { ttftMs: 5000, transport: 'sse' }),
        ...responsesAt(new Date(now.getTime() - 3600_000), 50, { ttftMs: 5000 }),
      ],
      [
        // Handshakes of 100 and 195 ms, carrying 10 and 1 responses.
        connectionAt(recent, { responses: 10 }),
        connectionAt(recent, { responses: 1, dnsMs: 100 }),
        // Carried nothing, another transport: left out.
        connectionAt(recent, { responses: 0, dnsMs: 500 }),
        connectionAt(recent, { transport: 'sse', tlsMs: 999 }),
        // Opened two hours ago: still open (its latest report) counts, with all it carried; closed an hour ago does not.
        connectionAt(new Date(now.getTime() - 2 * 3600_000), { responses: 89 }),
        connectionAt(new Date(now.getTime() - 2 * 3600_000), { responses: 5, tlsMs: 999, closedAt: new Date(now.getTime() - 3600_000) }),
      ],
    );
    const value = (input: Partial<RuleInput>) => valueOf(store.db, definition({ window: '5m', ...input }), now);
    const windowSeconds = evaluationWindow(300, now).seconds;

    close(await value({ statistic: 'p50' }), 100);
    close(await value({ statistic: 'p99' }), 900);
    assert.equal(await value({ statistic: 'max' }), 900);
    close((await value({ statistic: 'avg' }))!, (90 * 100 + 10 * 900) / 100, 1e-9);
    close((await value({ metric: 'e2e', statistic: 'avg' }))!, (90 * 600 + 10 * 1500) / 100, 1e-9);
    close(await value({ metric: 'itl', statistic: 'p99' }), 20);
    close(await value({ metric: 'itl', statistic: 'avg' }), 15);
    assert.equal(await value({ metric: 'error_rate', statistic: 'rate', threshold: 5 }), 10);
    assert.equal(await value({ metric: 'responses_per_second', statistic: 'rate', threshold: 1 }), 100 / windowSeconds);
    assert.equal(await value({ metric: 'tokens_per_second', statistic: 'rate', threshold: 1 }), (100 * 50) / windowSeconds);
    // Each response streams 50 tokens between its first output at ttft and its end.
    close((await value({ metric: 'tokens_per_second', statistic: 'avg', threshold: 1 }))!, (100 * 50) / (90 * 0.5 + 10 * 0.6), 1e-9);
    // The WebSocket connections in use that carried a response: 100 + 195 + 100 ms of handshakes, 10 + 1 + 89 responses.
    close(await value({ metric: 'connection_overhead', statistic: 'avg', threshold: 1 }), 395 / 100, 1e-9);
    assert.equal(await value({ metric: 'connection_overhead', statistic: 'max', threshold: 1 }), 195);
  });

  test('a window with fewer responses than the rule asks for has no value, whatever the responses measured', async () => {
    const { store } = database();
    const now = new Clock().now();
    const recent = new Date(now.getTime() - 10_000);
    // Two slow responses the rule watches (a p99 of two is noise), and thirty it does not.
    await ingest(store, [...responsesAt(recent, 2, { ttftMs: 4000 }), ...responsesAt(recent, 30, { ttftMs: 100, transport: 'sse' })], [connectionAt(recent, { responses: 2 })]);
    const value = (input: Partial<RuleInput>) => valueOf(store.db, definition({ window: '5m', ...input }), now);
    close(await value({ statistic: 'p99' }), 4000);
    // The reading says why: two responses of the three asked for.
    assert.deepEqual(await readRule(store.db, definition({ window: '5m', statistic: 'p99', minResponses: 3 }), now), { value: null, responses: 2 });
    assert.equal(await value({ metric: 'error_rate', statistic: 'rate', threshold: 1, minResponses: 3 }), null);
    assert.equal(await value({ metric: 'connection_overhead', statistic: 'avg', threshold: 1, minResponses: 3 }), null);
    // Enough responses: the same figures as without the floor.
    close(await value({ statistic: 'p99', minResponses: 2 }), 4000);
    // One 100 ms handshake over the two responses it carried.
    assert.equal(await value({ metric: 'connection_overhead', statistic: 'max', threshold: 1, minResponses: 2 }), 50);
  });

  test('no traffic is no value for latencies and zero for rates', async () => {
    const { store } = database();
    const now = new Clock().now();
    assert.equal(await valueOf(store.db, definition({}), now), null);
    assert.equal(await valueOf(store.db, definition({ metric: 'responses_per_second', statistic: 'rate', threshold: 1 }), now), 0);
    assert.equal(await valueOf(store.db, definition({ metric: 'error_rate', statistic: 'rate', threshold: 1 }), now), 0);
  });
});

describeEachDatabase('alert evaluation', (database) => {
  let receiver: Receiver;
  let evaluator: AlertEvaluator;
  let clock: Clock;

  beforeEach(async () => {
    await clearTables(database().store);
    receiver = await startReceiver();
    clock = new Clock();
    evaluator = startAlertEvaluator({ store: database().store, intervalMs: 3600_000, now: clock.now });
  });
  afterEach(async () => {
    await evaluator.stop();
    await receiver.close();
  });

  const events = () => database().store.db.select().from(alertEvents).orderBy(asc(alertEvents.id));
  /** Two minutes on, past a 1m window: `count` responses of `ttftMs`, evaluated and notified. */
  const windowLater = async (count: number, ttftMs: number) => {
    clock.advance(120);
    await ingest(database().store, responsesAt(clock.recent(), count, { ttftMs }));
    await evaluator.tick();
    await evaluator.idle();
  };

  test('data crossing the threshold fires a webhook; data that recovers resolves it', async () => {
    const { store } = database();
    const rule = await insertRule(store.db, definition({ webhooks: [{ url: receiver.url }] }));
    await ingest(store, responsesAt(clock.recent(), 20, { ttftMs: 120 }));
    await evaluator.tick();
    assert.equal(receiver.requests.length, 0, 'a healthy rule notifies nobody');

    clock.advance(30);
    await ingest(store, responsesAt(clock.recent(), 20, { ttftMs: 480 }));
    await evaluator.tick();
    await evaluator.idle();
    assert.equal(receiver.requests.length, 1);
    const firing = receiver.requests[0].body;
    assert.equal(firing.state, 'firing');
    assert.equal(firing.threshold, 300);
    assert.equal(firing.unit, 'ms');
    close(firing.value as number, 480);
    assert.match(firing.summary as string, /^FIRING: websocket ttft p99 — value 4\d\d ms; condition TTFT p99 > 300 ms over 1m/);
    assert.deepEqual((firing.rule as { id: number }).id, rule.id);

    // The slow minute leaves the window; only fast responses remain.
    await windowLater(20, 110);
    assert.deepEqual(receiver.requests.map((r) => r.body.state), ['firing', 'resolved']);

    const history = await events();
    assert.deepEqual(history.map((e) => [e.fromState, e.toState]), [['inactive', 'firing'], ['firing', 'resolved']]);
    close(history[0].value, 480);
    assert.deepEqual(history.map((e) => e.deliveries), [
      [{ url: receiver.url, ok: true, status: 200, attempts: 1 }],
      [{ url: receiver.url, ok: true, status: 200, attempts: 1 }],
    ]);
  });

  test('a firing rule whose window falls below its minimum resolves, and the rule and its event keep the count', async () => {
    const { store } = database();
    await insertRule(store.db, definition({ minResponses: 10, webhooks: [{ url: receiver.url }] }));
    await ingest(store, responsesAt(clock.recent(), 10, { ttftMs: 700 }));
    await evaluator.tick();
    // The slow minute leaves the window, and three slow responses are too few to judge.
    await windowLater(3, 700);
    assert.deepEqual(receiver.requests.map((r) => [r.body.state, r.body.value === null, r.body.responses]), [['firing', false, 10], ['resolved', true, 3]]);
    assert.match(String(receiver.requests[1].body.summary), /value too few responses \(3 of 10\)/);
    const history = await events();
    assert.deepEqual(history.map((e) => [e.toState, e.value === null, e.responses]), [['firing', false, 10], ['resolved', true, 3]]);
    const [rule] = await store.db.query.alertRules.findMany();
    assert.deepEqual([rule.lastValue, rule.lastResponses], [null, 3]);
  });

  test('a breach fires only once it has lasted the pending duration; a shorter one never notifies', async () => {
    const { store } = database();
    await insertRule(store.db, definition({ pending: '2m', window: '1m', webhooks: [{ url: receiver.url }] }));
    const breach = () => ingest(store, responsesAt(clock.recent(), 5, { ttftMs: 700 }));

    // A one-minute blip: pending, then back to inactive.
    await breach();
    await evaluator.tick();
    clock.advance(150);
    await evaluator.tick();

    // A sustained breach, evaluated every minute.
    const states: string[] = [];
    for (let minute = 0; minute < 4; minute++) {
      await breach();
      await evaluator.tick();
      const [rule] = await store.db.query.alertRules.findMany();
      states.push(rule.state);
      clock.advance(60);
    }
    await evaluator.idle();
    assert.deepEqual(states, ['pending', 'pending', 'firing', 'firing']);
    assert.deepEqual((await events()).map((e) => e.toState), ['pending', 'inactive', 'pending', 'firing']);
    assert.deepEqual(receiver.requests.map((r) => r.body.state), ['firing']);
  });

  test('a disabled rule is not evaluated', async () => {
    const { store } = database();
    await insertRule(store.db, { ...definition({ webhooks: [{ url: receiver.url }] }), enabled: false });
    await ingest(store, responsesAt(clock.recent(), 5, { ttftMs: 900 }));
    const { evaluations } = await evaluator.tick();
    assert.equal(evaluations.length, 0);
    assert.equal((await events()).length, 0);
  });
});
