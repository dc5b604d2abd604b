/*
 * Webhook notifications on firing and resolved. Delivery runs beside evaluation, never in
 * it: the evaluator hands an event to the notifier and moves on, so a slow or failing
 * receiver costs at most its own timeouts and retries, recorded on the event afterwards.
 */
import type { Db } from '../db/client';
import type { AlertRule } from '../db/schema';
import { describeCondition, readingText, ruleDefinition, toRuleInput, webhookAllowlist, webhookUrlProblem, type Env, type WebhookTarget } from './rule';
import { recordDeliveries, type Delivery } from './rules-store';

export type NotificationState = 'firing' | 'resolved' | 'test';

export interface Notification {
  rule: AlertRule;
  state: NotificationState;
  value: number | null;
  /** Responses the evaluation counted in the window (null where it did not count them). */
  responses: number | null;
  at: Date;
}

export interface DeliveryOptions {
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts after the first. */
  retries?: number;
  /** Wait before the first retry; each further retry waits twice as long. */
  backoffMs?: number;
  /** How to wait between attempts (tests record the waits instead of sleeping). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  env?: Env;
}

const DEFAULTS = { timeoutMs: 5000, retries: 3, backoffMs: 1000 };

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** "FIRING: ws-ttft — value 412 ms; condition TTFT p99 > 300 ms over 5m (transport=websocket)". */
export function notificationSummary(notification: Notification): string {
  const definition = ruleDefinition(notification.rule);
  const value = readingText(definition, notification.value, notification.responses);
  const label = notification.state === 'test' ? 'TEST' : notification.state.toUpperCase();
  return `${label}: ${definition.name} — value ${value}; condition ${describeCondition(definition)}`;
}

export function notificationBody(notification: Notification, format: WebhookTarget['format']): unknown {
  const summary = notificationSummary(notification);
  if (format === 'slack') return { text: summary };
  // Webhook URLs are secrets (a Slack URL is its own credential): no receiver sees the others.
  const { webhooks: _webhooks, ...rule } = toRuleInput(ruleDefinition(notification.rule));
  return {
    rule: { id: notification.rule.id, ...rule },
    state: notification.state,
    value: notification.value,
    responses: notification.responses,
    threshold: rule.threshold,
    unit: rule.unit,
    at: notification.at.toISOString(),
    summary,
  };
}

/** Network errors, timeouts, 429 and 5xx may pass; other answers will not change on retry. */
const retryable = (status: number | undefined) => status === undefined || status === 429 || status >= 500;

/**
 * Posts one notification to one target with a timeout per attempt and exponential backoff
 * between attempts. Never throws: the outcome is the returned delivery.
 */
export async function deliverWebhook(
  target: WebhookTarget,
  notification: Notification,
  options: DeliveryOptions = {},
  signal: AbortSignal = new AbortController().signal,
): Promise<Delivery> {
  const { timeoutMs, retries, backoffMs } = { ...DEFAULTS, ...options };
  const sleep = options.sleep ?? abortableSleep;
  // The allowlist is checked again here: it may have been tightened since the rule was saved.
  const problem = webhookUrlProblem(target.url, webhookAllowlist(options.env));
  if (problem) return { url: target.url, ok: false, error: problem, attempts: 0 };
  const body = JSON.stringify(notificationBody(notification, target.format));
  let attempts = 0;
  let status: number | undefined;
  let error: string | undefined;
  for (;;) {
    attempts += 1;
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'streamscope-alerts' },
        body,
        // A redirect could lead past the allowlist, so it counts as a failed delivery.
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      status = response.status;
      await response.body?.cancel();
      if (response.ok) return { url: target.url, ok: true, status, attempts };
      error = `HTTP ${status}`;
    } catch (caught) {
      status = undefined;
      error = signal.aborted ? 'cancelled: the alert evaluator stopped' : describeFetchError(caught, timeoutMs);
    }
    if (signal.aborted || attempts > retries || !retryable(status)) break;
    try {
      await sleep(backoffMs * 2 ** (attempts - 1), signal);
    } catch {
      error = 'cancelled: the alert evaluator stopped';
      break;
    }
  }
  return { url: target.url, ok: false, ...(status === undefined ? {} : { status }), error, attempts };
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error instanceof Error ? error.message : String(error)}${cause}`;
}

/**
 * Sends a test notification to each of the rule's webhooks now and reports how each went.
 * One attempt by default: someone is waiting on the answer, and it should show the failure.
 */
export function sendTestNotification(rule: AlertRule, options: DeliveryOptions = {}, at = new Date()): Promise<Delivery[]> {
  const notification: Notification = { rule, state: 'test', value: rule.lastValue, responses: rule.lastResponses, at };
  return Promise.all(rule.webhooks.map((target) => deliverWebhook(target, notification, { retries: 0, ...options })));
}

export interface Notifier {
  /** Starts delivering an event's notification in the background and returns at once. */
  dispatch(eventId: number, notification: Notification): void;
  /** Resolves when every dispatched delivery has finished and been recorded. */
  idle(): Promise<void>;
  /** Cancels deliveries still retrying (recording them as cancelled) and waits for them. */
  close(): Promise<void>;
}

export function createNotifier(db: Db, options: DeliveryOptions & { onError?: (error: unknown) => void } = {}): Notifier {
  const inFlight = new Set<Promise<void>>();
  const controller = new AbortController();
  const deliverAll = async (eventId: number, notification: Notification) => {
    const deliveries = await Promise.all(
      notification.rule.webhooks.map((target) => deliverWebhook(target, notification, options, controller.signal)),
    );
    await recordDeliveries(db, eventId, deliveries);
  };
  return {
    dispatch(eventId, notification) {
      if (notification.rule.webhooks.length === 0) return;
      const delivery = deliverAll(eventId, notification)
        .catch((error: unknown) => (options.onError ?? console.error)(error))
        .finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    async close() {
      controller.abort();
      await this.idle();
    },
  };
}
