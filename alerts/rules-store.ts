/*
 * Reads and writes of alert_rules and alert_events. The API, the rules file and the
 * evaluator all go through here, so how a rule changes state is written once.
 */
import { and, asc, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { alertEvents, alertRules, type AlertEvent, type AlertRule } from '../db/schema';
import type { EventState, RuleDefinition, RuleState } from './rule';

export type Delivery = AlertEvent['deliveries'][number];

export function listRules(db: Db): Promise<AlertRule[]> {
  return db.select().from(alertRules).orderBy(asc(alertRules.name));
}

export async function getRule(db: Db, id: number): Promise<AlertRule | undefined> {
  const [rule] = await db.select().from(alertRules).where(eq(alertRules.id, id));
  return rule;
}

export async function insertRule(db: Db, definition: RuleDefinition): Promise<AlertRule> {
  const [rule] = await db.insert(alertRules).values(definition).returning();
  return rule;
}

/**
 * Replaces a rule's definition. Its state is kept (the next evaluation judges it against
 * the new condition), except that disabling a rule ends whatever state it was in: a
 * disabled rule is never evaluated, so it would otherwise stay firing for ever.
 */
export async function updateRule(db: Db, rule: AlertRule, definition: RuleDefinition, now: Date): Promise<AlertRule> {
  return db.transaction(async (tx) => {
    const reset = !definition.enabled && rule.state !== 'inactive';
    const [updated] = await tx
      .update(alertRules)
      .set({ ...definition, updatedAt: now, ...(reset ? { state: 'inactive', stateSince: now } : {}) })
      .where(eq(alertRules.id, rule.id))
      .returning();
    if (reset) await tx.insert(alertEvents).values({ ruleId: rule.id, at: now, fromState: rule.state, toState: 'inactive', value: null });
    return updated;
  });
}

export async function deleteRule(db: Db, id: number): Promise<boolean> {
  const deleted = await db.delete(alertRules).where(eq(alertRules.id, id)).returning({ id: alertRules.id });
  return deleted.length > 0;
}

export function listEvents(db: Db, ruleId: number, limit: number): Promise<AlertEvent[]> {
  return db.select().from(alertEvents).where(eq(alertEvents.ruleId, ruleId)).orderBy(desc(alertEvents.at), desc(alertEvents.id)).limit(limit);
}

export interface Transition {
  to: EventState;
  /** The state the rule is left in: 'resolved' leaves it inactive. */
  stored: RuleState;
}

/**
 * Stores one evaluation: the value and responses seen and, on a transition, the new state
 * and its event. The state update is conditional on the state the evaluator read, so a rule
 * disabled or changed meanwhile is not overwritten; the event is then dropped and undefined
 * returned.
 */
export async function recordEvaluation(
  db: Db,
  rule: AlertRule,
  { value, responses }: { value: number | null; responses: number | null },
  at: Date,
  transition?: Transition,
): Promise<AlertEvent | undefined> {
  const last = { lastValue: value, lastResponses: responses, lastEvaluatedAt: at };
  if (!transition) {
    await db.update(alertRules).set(last).where(eq(alertRules.id, rule.id));
    return undefined;
  }
  return db.transaction(async (tx) => {
    const changed = await tx
      .update(alertRules)
      .set({ ...last, state: transition.stored, stateSince: at })
      .where(and(eq(alertRules.id, rule.id), eq(alertRules.state, rule.state), eq(alertRules.enabled, true)))
      .returning({ id: alertRules.id });
    if (changed.length === 0) return undefined;
    const [event] = await tx
      .insert(alertEvents)
      .values({ ruleId: rule.id, at, fromState: rule.state, toState: transition.to, value, responses })
      .returning();
    return event;
  });
}

export async function recordDeliveries(db: Db, eventId: number, deliveries: Delivery[]): Promise<void> {
  await db.update(alertEvents).set({ deliveries }).where(eq(alertEvents.id, eventId));
}
