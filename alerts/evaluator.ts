/*
 * The periodic evaluator the collector runs. Several collectors may share one Postgres;
 * exactly one of them evaluates, the holder of a session-level advisory lock. The lock
 * lives on a dedicated one-connection client, so it is held exactly as long as that
 * session: a collector that stops or dies releases it and another takes over on its next
 * tick. PGlite is single-process, so there the evaluator simply evaluates.
 */
import postgres from 'postgres';
import type { Store } from '../db/client';
import { evaluateRules, type RuleEvaluation } from './evaluate';
import { createNotifier, type DeliveryOptions } from './notify';
import type { Env } from './rule';

/** Any fixed pair of 32-bit keys; the two-key form makes the lock easy to find in pg_locks. */
const LOCK_KEYS = [7_163_254, 5] as const;

export const DEFAULT_INTERVAL_SECONDS = 30;

export function alertIntervalMsFromEnv(env: Env = process.env): number {
  const seconds = Number(env.STREAMSCOPE_ALERT_INTERVAL_SECONDS);
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_INTERVAL_SECONDS) * 1000;
}

export interface AlertEvaluatorOptions {
  store: Store;
  /** Time between the end of one evaluation and the start of the next; defaults from the env. */
  intervalMs?: number;
  now?: () => Date;
  delivery?: DeliveryOptions;
  onError?: (error: unknown) => void;
}

export interface TickResult {
  /** Whether this process held the lock and evaluated. */
  leader: boolean;
  evaluations: RuleEvaluation[];
}

export interface AlertEvaluator {
  /** Runs one evaluation now (the timer calls the same); ticks never overlap. */
  tick(): Promise<TickResult>;
  /** Deliveries still in flight, for callers that need them recorded (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops the timer, waits for the running tick, cancels retrying deliveries, releases the lock. */
  stop(): Promise<void>;
}

interface Leadership {
  /** Whether this process may evaluate now; acquires the lock when it is free. */
  claim(): Promise<boolean>;
  release(): Promise<void>;
}

function advisoryLockLeadership(databaseUrl: string): Leadership {
  const session = postgres(databaseUrl, { max: 1, max_lifetime: null, onnotice: () => {} });
  const [classKey, objectKey] = LOCK_KEYS;
  let held = false;
  return {
    async claim() {
      if (held) {
        // The client reconnects silently after a dropped connection, and the lock died with
        // the old session: ask the server whether this session still holds it.
        const [row] = await session`select exists(select 1 from pg_locks where locktype = 'advisory' and granted
          and classid = ${classKey} and objid = ${objectKey} and objsubid = 2 and pid = pg_backend_pid()) as held`;
        held = row.held;
      }
      if (!held) {
        const [row] = await session`select pg_try_advisory_lock(${classKey}, ${objectKey}) as locked`;
        held = row.locked;
      }
      return held;
    },
    async release() {
      // Ending the session would release the lock too, but only once the server notices the
      // closed socket; unlocking first lets another collector take over on its next tick.
      if (held) await session`select pg_advisory_unlock(${classKey}, ${objectKey})`.catch(() => undefined);
      held = false;
      await session.end({ timeout: 5 });
    },
  };
}

const soleLeadership: Leadership = { claim: async () => true, release: async () => {} };

export function startAlertEvaluator(options: AlertEvaluatorOptions): AlertEvaluator {
  const { store } = options;
  const intervalMs = options.intervalMs ?? alertIntervalMsFromEnv();
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? ((error: unknown) => console.error('streamscope alerts:', error));
  if (store.driver === 'postgres' && !store.databaseUrl) throw new Error('the alert evaluator needs the store\'s databaseUrl to hold its lock');
  const leadership = store.driver === 'postgres' ? advisoryLockLeadership(store.databaseUrl!) : soleLeadership;
  const notifier = createNotifier(store.db, { ...options.delivery, onError });
  let running: Promise<TickResult> = Promise.resolve({ leader: false, evaluations: [] });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const evaluate = async (): Promise<TickResult> => {
    if (!(await leadership.claim())) return { leader: false, evaluations: [] };
    const evaluations = await evaluateRules(store.db, {
      now: now(),
      onTransition: ({ rule, event, value }) => {
        if (event.toState === 'firing' || event.toState === 'resolved') {
          notifier.dispatch(event.id, { rule, state: event.toState, value, responses: event.responses, at: event.at });
        }
      },
      onError: (rule, error) => onError(new Error(`evaluating alert rule "${rule.name}" failed`, { cause: error })),
    });
    return { leader: true, evaluations };
  };

  const tick = (): Promise<TickResult> => {
    running = running.then(evaluate, evaluate);
    return running;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      tick()
        .catch(onError)
        .finally(schedule);
    }, intervalMs);
    // The evaluator alone must not keep a process alive.
    timer.unref();
  };
  schedule();

  return {
    tick,
    idle: () => notifier.idle(),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
      await notifier.close();
      await leadership.release();
    },
  };
}
