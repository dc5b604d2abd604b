/*
 * One evaluation of the alert rules: each rule's current value from the per-minute
 * rollups (or the connections table for connection overhead), then its state machine
 * inactive → pending → firing → resolved, with every change stored as an event.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { HANDSHAKE_INPUTS, HANDSHAKE_MS } from '../db/handshake';
import { connectionsInUse } from '../db/queries/connections-in-use';
import { bucketValue, histogramQuantiles } from '../db/histogram';
import { filterConditions } from '../db/queries/filter';
import { queryRows } from '../db/rows';
import { alertRules, type AlertEvent, type AlertRule, type HistogramBuckets } from '../db/schema';
import { minuteStart } from '../db/time-buckets';
import { breaches, ruleDefinition, type RuleDefinition, type RuleState, type Statistic } from './rule';
import { recordEvaluation, type Transition } from './rules-store';

const QUANTILE: Partial<Record<Statistic, number>> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

/** The span [from, to) a rule reads, and its length for rates. */
export interface EvaluationWindow {
  from: Date;
  to: Date;
  seconds: number;
}

/**
 * Rollups are per minute, so the window starts at the minute that holds now − window:
 * rates then divide by exactly the time the summed buckets cover.
 */
export function evaluationWindow(windowSeconds: number, now: Date): EvaluationWindow {
  const from = minuteStart(now.getTime() - windowSeconds * 1000);
  return { from: new Date(from), to: now, seconds: (now.getTime() - from) / 1000 };
}

interface RollupSums extends Record<string, unknown> {
  responses: number;
  errors: number;
  with_output: number;
  output_tokens: number;
  generation_tokens: number;
  generation_seconds: number;
  ttft_sum_ms: number;
  duration_sum_ms: number;
  ttft_max_ms: number | null;
  duration_max_ms: number | null;
  itl_max_ms: number | null;
  hist: HistogramBuckets | null;
}

const LATENCY_COLUMNS = {
  ttft: { hist: 'ttft_hist', sum: 'ttft_sum_ms', count: 'with_output', max: 'ttft_max_ms' },
  itl: { hist: 'itl_hist', sum: null, count: null, max: 'itl_max_ms' },
  e2e: { hist: 'duration_hist', sum: 'duration_sum_ms', count: 'responses', max: 'duration_max_ms' },
} as const;

/** The mean of a histogram's values, within the histogram's relative accuracy. */
function histogramMean(hist: HistogramBuckets): number | null {
  let count = 0;
  let total = 0;
  for (const [key, n] of Object.entries(hist)) {
    count += Number(n);
    total += bucketValue(Number(key)) * Number(n);
  }
  return count > 0 ? total / count : null;
}

const ratio = (numerator: number, denominator: number) => (denominator > 0 ? numerator / denominator : null);
const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));

const latencyColumns = (rule: RuleDefinition) => (rule.metric === 'ttft' || rule.metric === 'itl' || rule.metric === 'e2e' ? LATENCY_COLUMNS[rule.metric] : null);

/** The rollups' sums over the rule's window and filters, with the histogram its statistic needs. */
async function rollupSums(db: Db, rule: RuleDefinition, window: EvaluationWindow): Promise<RollupSums> {
  const latency = latencyColumns(rule);
  // Only a percentile needs a histogram merged in the database; the ITL mean reads one too,
  // since rollups keep no ITL sum.
  const needsHist = latency && (QUANTILE[rule.statistic] !== undefined || latency.sum === null);
  const hist = needsHist ? sql`streamscope_hist_sum(${sql.identifier(latency.hist)})` : sql`null::jsonb`;
  const [row] = await queryRows<RollupSums>(
    db,
    sql`select coalesce(sum(responses), 0)::float8 as responses,
          coalesce(sum(errors), 0)::float8 as errors,
          coalesce(sum(with_output), 0)::float8 as with_output,
          coalesce(sum(output_tokens), 0)::float8 as output_tokens,
          coalesce(sum(generation_tokens), 0)::float8 as generation_tokens,
          coalesce(sum(generation_seconds), 0)::float8 as generation_seconds,
          coalesce(sum(ttft_sum_ms), 0)::float8 as ttft_sum_ms,
          coalesce(sum(duration_sum_ms), 0)::float8 as duration_sum_ms,
          max(ttft_max_ms) as ttft_max_ms, max(duration_max_ms) as duration_max_ms, max(itl_max_ms) as itl_max_ms,
          ${hist} as hist
        from rollups_1m where ${filterConditions({ ...window, ...rule.filters }, sql`bucket`)}`,
  );
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, key === 'hist' ? value : numberOrNull(value)])) as RollupSums;
}

function rollupValue(rule: RuleDefinition, sums: RollupSums, window: EvaluationWindow): number | null {
  switch (rule.metric) {
    case 'responses_per_second':
      return sums.responses / window.seconds;
    case 'error_rate':
      return sums.responses > 0 ? (100 * sums.errors) / sums.responses : 0;
    case 'tokens_per_second':
      return rule.statistic === 'rate' ? sums.output_tokens / window.seconds : ratio(sums.generation_tokens, sums.generation_seconds);
  }
  const latency = latencyColumns(rule);
  if (!latency) throw new Error(`metric ${rule.metric} is not read from rollups`);
  const histogram = sums.hist ?? {};
  const quantile = QUANTILE[rule.statistic];
  if (quantile !== undefined) return histogramQuantiles(histogram, [quantile])[0];
  if (rule.statistic === 'max') return sums[latency.max];
  return latency.sum === null ? histogramMean(histogram) : ratio(sums[latency.sum], sums[latency.count]);
}

/**
 * Handshake time (see HANDSHAKE_MS) per response, over the connections in use during the
 * window that carried one, as the Compare view reads it: a persistent WebSocket opened an
 * hour ago counts with every response it has carried (from its latest report while open),
 * so a socket opened a minute ago with three responses does not stand for the transport.
 * `max` is the dearest connection's own figure.
 */
async function connectionOverhead(db: Db, rule: RuleDefinition, window: EvaluationWindow): Promise<number | null> {
  const value = rule.statistic === 'max' ? sql`max(handshake_ms / responses)` : sql`sum(handshake_ms) / sum(responses)`;
  const inUse = connectionsInUse({ ...window, ...rule.filters }, ['service', 'transport'], sql`${HANDSHAKE_INPUTS}, responses`);
  const [row] = await queryRows<{ value: number | null }>(
    db,
    sql`select (${value})::float8 as value
        from (select ${HANDSHAKE_MS} as handshake_ms, responses from (${inUse}) c where responses > 0) carrying`,
  );
  return numberOrNull(row?.value);
}

/** What one evaluation read: the rule's value, and the responses in its window where they were counted. */
export interface RuleReading {
  /** Null when there was nothing to measure, or fewer responses than the rule's minResponses. */
  value: number | null;
  /** Null where not counted: a connection-overhead rule without a minimum reads connections only. */
  responses: number | null;
}

/** The rule's reading over its window ending at `now`. */
export async function readRule(db: Db, rule: RuleDefinition, now: Date): Promise<RuleReading> {
  const window = evaluationWindow(rule.windowSeconds, now);
  if (rule.metric === 'connection_overhead' && rule.minResponses === 0) return { value: await connectionOverhead(db, rule, window), responses: null };
  const sums = await rollupSums(db, rule, window);
  if (sums.responses < rule.minResponses) return { value: null, responses: sums.responses };
  const value = rule.metric === 'connection_overhead' ? await connectionOverhead(db, rule, window) : rollupValue(rule, sums, window);
  return { value, responses: sums.responses };
}

/**
 * The state machine. A breach starts pending and fires once it has lasted pendingSeconds
 * (at once when that is 0); a pending rule that recovers goes back to inactive without
 * ever notifying; a firing rule that recovers is resolved.
 */
export function nextTransition(
  rule: { state: string; stateSince: Date | null; pendingSeconds: number },
  breaching: boolean,
  now: Date,
): Transition | undefined {
  const state = rule.state as RuleState;
  if (breaching) {
    if (state === 'inactive') return rule.pendingSeconds === 0 ? { to: 'firing', stored: 'firing' } : { to: 'pending', stored: 'pending' };
    const pendingFor = now.getTime() - (rule.stateSince ?? now).getTime();
    if (state === 'pending' && pendingFor >= rule.pendingSeconds * 1000) return { to: 'firing', stored: 'firing' };
    return undefined;
  }
  if (state === 'pending') return { to: 'inactive', stored: 'inactive' };
  if (state === 'firing') return { to: 'resolved', stored: 'inactive' };
  return undefined;
}

export interface RuleEvaluation {
  rule: AlertRule;
  value: number | null;
  /** The event stored when the state changed. */
  event?: AlertEvent;
}

/** Evaluates one rule at `now` and stores the outcome. */
export async function evaluateRule(db: Db, rule: AlertRule, now: Date): Promise<RuleEvaluation> {
  const definition = ruleDefinition(rule);
  const reading = await readRule(db, definition, now);
  const transition = nextTransition(rule, breaches(definition, reading.value), now);
  const event = await recordEvaluation(db, rule, reading, now, transition);
  return { rule, value: reading.value, event };
}

export interface EvaluationOptions {
  now: Date;
  /** Called with each evaluation that changed state (after it is stored). */
  onTransition?: (evaluation: Required<RuleEvaluation>) => void;
  /** A rule whose evaluation fails is reported here and the others still run. */
  onError?: (rule: AlertRule, error: unknown) => void;
}

/** Evaluates every enabled rule once. */
export async function evaluateRules(db: Db, options: EvaluationOptions): Promise<RuleEvaluation[]> {
  const rules = await db.select().from(alertRules).where(eq(alertRules.enabled, true));
  const evaluations: RuleEvaluation[] = [];
  for (const rule of rules) {
    try {
      const evaluation = await evaluateRule(db, rule, options.now);
      evaluations.push(evaluation);
      if (evaluation.event) options.onTransition?.({ ...evaluation, event: evaluation.event });
    } catch (error) {
      options.onError?.(rule, error);
    }
  }
  return evaluations;
}
