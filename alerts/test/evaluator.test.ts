import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import postgres from 'postgres';
import { eq } from 'drizzle-orm';
import { openStore, type Store } from '../../db/client';
import { alertEvents, alertRules } from '../../db/schema';
import { describeEachDatabase } from '../../test/support/databases';
import { alertIntervalMsFromEnv, DEFAULT_INTERVAL_SECONDS, startAlertEvaluator, type AlertEvaluator } from '../evaluator';
import { insertRule } from '../rules-store';
import { clearTables, Clock, definition, ingest, responsesAt, startReceiver, type Receiver } from './support';

const HOUR_MS = 3600_000;

test('the interval comes from STREAMSCOPE_ALERT_INTERVAL_SECONDS', () => {
  assert.equal(alertIntervalMsFromEnv({ STREAMSCOPE_ALERT_INTERVAL_SECONDS: '15' }), 15_000);
  assert.equal(alertIntervalMsFromEnv({ STREAMSCOPE_ALERT_INTERVAL_SECONDS: 'often' }), DEFAULT_INTERVAL_SECONDS * 1000);
});

describeEachDatabase('alert evaluator', (database) => {
  const stops: (() => Promise<unknown>)[] = [];
  const start = (store: Store, clock: Clock, delivery = {}): AlertEvaluator => {
    const evaluator = startAlertEvaluator({ store, intervalMs: HOUR_MS, now: clock.now, delivery });
    stops.push(() => evaluator.stop());
    return evaluator;
  };
  let receiver: Receiver | undefined;

  /** The suite's store and a second one on the same database, as two collectors would have. */
  const twoCollectors = async () => {
    const other = await openStore({ databaseUrl: database().databaseUrl, maxConnections: 2 });
    stops.push(() => other.close());
    const clock = new Clock();
    return { first: start(database().store, clock), second: start(other, clock) };
  };

  beforeEach(() => clearTables(database().store));
  afterEach(async () => {
    while (stops.length) await stops.pop()!();
    await receiver?.close();
    receiver = undefined;
  });

  test('with two collectors on one database exactly one evaluates; when it stops the other takes over', async (t) => {
    if (database().kind !== 'postgres') return t.skip('PGlite is single-process');
    await insertRule(database().store.db, definition());
    const { first, second } = await twoCollectors();
    assert.equal((await first.tick()).leader, true);
    assert.equal((await second.tick()).leader, false);
    assert.equal((await first.tick()).evaluations.length, 1, 'the leader keeps evaluating on later ticks');
    assert.equal((await second.tick()).leader, false);

    await first.stop();
    const takeover = await second.tick();
    assert.equal(takeover.leader, true);
    assert.equal(takeover.evaluations.length, 1);
  });

  test('a leader whose database session dies loses the lock, and the other collector takes over', async (t) => {
    if (database().kind !== 'postgres') return t.skip('PGlite is single-process');
    const { first, second } = await twoCollectors();
    assert.equal((await first.tick()).leader, true);

    const admin = postgres(database().databaseUrl!, { max: 1, onnotice: () => {} });
    try {
      // The timeout makes the call wait until the session is gone, not just signalled.
      await admin`select pg_terminate_backend(pid, 5000) from pg_locks where locktype = 'advisory' and objsubid = 2 and granted
        and database = (select oid from pg_database where datname = current_database())`;
    } finally {
      await admin.end();
    }
    assert.equal((await second.tick()).leader, true);
    assert.equal((await first.tick()).leader, false);
  });

  test('evaluates on its own every interval until stopped', async () => {
    const { store } = database();
    const rule = await insertRule(store.db, definition());
    const evaluator = startAlertEvaluator({ store, intervalMs: 5 });
    stops.push(() => evaluator.stop());
    const evaluated = async () => (await store.db.select().from(alertRules).where(eq(alertRules.id, rule.id)))[0].lastEvaluatedAt;
    while (!(await evaluated())) await new Promise((resolve) => setTimeout(resolve, 5));
    await evaluator.stop();
    const last = await evaluated();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await evaluated(), last, 'no evaluation after stop()');
  });

  test('a webhook that hangs delays neither the next evaluation nor ingestion, and stop() cancels it', async () => {
    const { store } = database();
    receiver = await startReceiver(() => 'hang');
    const clock = new Clock();
    const rule = await insertRule(store.db, definition({ webhooks: [receiver.url] }));
    const evaluator = start(store, clock, { timeoutMs: HOUR_MS });

    await ingest(store, responsesAt(clock.recent(), 5, { ttftMs: 900 }));
    const firing = await evaluator.tick();
    assert.equal(firing.evaluations[0].event?.toState, 'firing');
    await receiver.received(1);

    // The receiver has the request and holds it; evaluation and ingestion carry on regardless.
    clock.advance(30);
    await ingest(store, responsesAt(clock.recent(), 5, { ttftMs: 950 }));
    const next = await evaluator.tick();
    assert.equal(next.evaluations.length, 1);
    const [stored] = await store.db.select().from(alertRules).where(eq(alertRules.id, rule.id));
    assert.equal(stored.lastEvaluatedAt?.getTime(), clock.now().getTime());
    assert.equal(receiver.requests.length, 1);

    await evaluator.stop();
    const [event] = await store.db.select().from(alertEvents).where(eq(alertEvents.ruleId, rule.id));
    assert.deepEqual(event.deliveries, [{ url: receiver.url, ok: false, error: 'cancelled: the alert evaluator stopped', attempts: 1 }]);
  });
});
