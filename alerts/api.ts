/*
 * The alert rules HTTP API as plain functions: each takes the parsed request and returns
 * { status, body }, so a Next route handler, a test or another server mounts them as is.
 * Rules go out in the shape users write them (see RuleInput), so a rule read here can be
 * edited and sent back, or pasted into a rules file.
 */
import type { Store } from '../db/client';
import type { AlertEvent, AlertRule } from '../db/schema';
import { describeCondition, ruleDefinition, toRuleInput, validateRule, type Env, type FieldError } from './rule';
import { deleteRule, getRule, insertRule, listEvents, listRules, updateRule } from './rules-store';
import { sendTestNotification, type DeliveryOptions } from './notify';

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** A route parameter or a number. */
export type RuleId = string | number;

export interface AlertsApiOptions {
  env?: Env;
  now?: () => Date;
  delivery?: DeliveryOptions;
}

export const DEFAULT_HISTORY_LIMIT = 100;
const MAX_HISTORY_LIMIT = 1000;

/** A rule as the API returns it. */
export function ruleView(rule: AlertRule) {
  const definition = ruleDefinition(rule);
  return {
    id: rule.id,
    ...toRuleInput(definition),
    description: describeCondition(definition),
    state: rule.state,
    stateSince: rule.stateSince?.toISOString() ?? null,
    lastValue: rule.lastValue,
    lastResponses: rule.lastResponses,
    lastEvaluatedAt: rule.lastEvaluatedAt?.toISOString() ?? null,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
  };
}

export type RuleView = ReturnType<typeof ruleView>;

export function eventView(event: AlertEvent) {
  return {
    id: event.id,
    ruleId: event.ruleId,
    at: event.at.toISOString(),
    fromState: event.fromState,
    toState: event.toState,
    value: event.value,
    responses: event.responses,
    deliveries: event.deliveries,
  };
}

export type EventView = ReturnType<typeof eventView>;

const invalid = (errors: FieldError[]): ApiResponse => ({ status: 400, body: { error: 'invalid alert rule', errors } });
const notFound = (id: RuleId): ApiResponse => ({ status: 404, body: { error: `no alert rule with id ${id}` } });
const nameTaken = (name: string): ApiResponse => ({
  status: 409,
  body: { error: 'invalid alert rule', errors: [{ field: 'name', message: `a rule named "${name}" already exists` }] },
});

function parseId(id: RuleId): number | null {
  const n = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
  return Number.isSafeInteger(n) && n > 0 && n <= 2_147_483_647 ? n : null;
}

/** Unique violations arrive wrapped by Drizzle, with the driver's error as the cause. */
function isUniqueViolation(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

export function createAlertsApi(store: Store, options: AlertsApiOptions = {}) {
  const { db } = store;
  const env = options.env ?? process.env;
  const now = options.now ?? (() => new Date());

  /** Runs `found` with the rule, or answers 404 for an unknown or malformed id. */
  async function withRule(id: RuleId, found: (rule: AlertRule) => Promise<ApiResponse>): Promise<ApiResponse> {
    const n = parseId(id);
    const rule = n === null ? undefined : await getRule(db, n);
    return rule ? found(rule) : notFound(id);
  }

  /** Saves a rule, answering 409 when another rule already has its name. */
  async function saving(name: string, save: () => Promise<AlertRule>, status: number): Promise<ApiResponse> {
    try {
      return { status, body: { rule: ruleView(await save()) } };
    } catch (error) {
      if (isUniqueViolation(error)) return nameTaken(name);
      throw error;
    }
  }

  return {
    /** GET /api/alerts */
    async list(): Promise<ApiResponse> {
      return { status: 200, body: { rules: (await listRules(db)).map(ruleView) } };
    },

    /** GET /api/alerts/:id */
    get({ id }: { id: RuleId }): Promise<ApiResponse> {
      return withRule(id, async (rule) => ({ status: 200, body: { rule: ruleView(rule) } }));
    },

    /** POST /api/alerts */
    async create({ body }: { body: unknown }): Promise<ApiResponse> {
      const validation = validateRule(body, env);
      if (!validation.ok) return invalid(validation.errors);
      return saving(validation.rule.name, () => insertRule(db, validation.rule), 201);
    },

    /** PUT or PATCH /api/alerts/:id — fields left out keep their current values. */
    update({ id, body }: { id: RuleId; body: unknown }): Promise<ApiResponse> {
      return withRule(id, async (rule) => {
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return invalid([{ field: '', message: 'a rule must be a JSON object' }]);
        const validation = validateRule({ ...toRuleInput(ruleDefinition(rule)), ...body }, env);
        if (!validation.ok) return invalid(validation.errors);
        return saving(validation.rule.name, () => updateRule(db, rule, validation.rule, now()), 200);
      });
    },

    /** DELETE /api/alerts/:id */
    async remove({ id }: { id: RuleId }): Promise<ApiResponse> {
      const n = parseId(id);
      return n !== null && (await deleteRule(db, n)) ? { status: 204, body: null } : notFound(id);
    },

    /** GET /api/alerts/:id/history?limit=N — state changes, newest first. */
    history({ id, limit }: { id: RuleId; limit?: string | number }): Promise<ApiResponse> {
      return withRule(id, async (rule) => {
        const n = limit === undefined || limit === '' ? DEFAULT_HISTORY_LIMIT : Number(limit);
        if (!Number.isInteger(n) || n < 1 || n > MAX_HISTORY_LIMIT) {
          return { status: 400, body: { error: 'invalid query', errors: [{ field: 'limit', message: `must be a whole number from 1 to ${MAX_HISTORY_LIMIT}` }] } };
        }
        return { status: 200, body: { events: (await listEvents(db, rule.id, n)).map(eventView) } };
      });
    },

    /** POST /api/alerts/:id/test — answers 200 with each webhook's outcome, or 400 when the rule has none. */
    test({ id }: { id: RuleId }): Promise<ApiResponse> {
      return withRule(id, async (rule) => {
        if (rule.webhooks.length === 0) return invalid([{ field: 'webhooks', message: 'the rule has no webhooks to notify' }]);
        const deliveries = await sendTestNotification(rule, { ...options.delivery, env }, now());
        return { status: 200, body: { ok: deliveries.every((d) => d.ok), deliveries } };
      });
    },
  };
}

export type AlertsApi = ReturnType<typeof createAlertsApi>;
