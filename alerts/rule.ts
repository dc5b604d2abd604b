/*
 * What an alert rule is and what makes one valid. Everything that accepts a rule from a
 * user — the HTTP API, the rules file — goes through validateRule, so a bad rule gets the
 * same field-named messages wherever it comes from.
 */
import type { AlertRule } from '../db/schema';

export const METRICS = ['ttft', 'itl', 'e2e', 'tokens_per_second', 'responses_per_second', 'error_rate', 'connection_overhead'] as const;
export const STATISTICS = ['p50', 'p90', 'p95', 'p99', 'avg', 'max', 'rate'] as const;
export const COMPARISONS = ['>', '>=', '<', '<='] as const;
export const TRANSPORTS = ['websocket', 'sse', 'http'] as const;
export const WEBHOOK_FORMATS = ['json', 'slack'] as const;

export type Metric = (typeof METRICS)[number];
export type Statistic = (typeof STATISTICS)[number];
export type Comparison = (typeof COMPARISONS)[number];
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];
export type Unit = 'ms' | 'tokens/s' | 'responses/s' | '%';
/** Environment variables; process.env by default. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The state stored on a rule; 'resolved' exists only as an event (firing → resolved → inactive). */
export type RuleState = 'inactive' | 'pending' | 'firing';
export type EventState = RuleState | 'resolved';

export interface MetricSpec {
  label: string;
  unit: Unit;
  statistics: readonly Statistic[];
}

const LATENCY_STATISTICS = ['p50', 'p90', 'p95', 'p99', 'avg', 'max'] as const;

/**
 * Which statistics each metric supports. Rates are per second over the window; for
 * tokens/s, `avg` is the mean streaming speed of a response and `rate` the throughput.
 */
export const METRIC_SPECS: Record<Metric, MetricSpec> = {
  ttft: { label: 'TTFT', unit: 'ms', statistics: LATENCY_STATISTICS },
  itl: { label: 'inter-token latency', unit: 'ms', statistics: LATENCY_STATISTICS },
  e2e: { label: 'end-to-end latency', unit: 'ms', statistics: LATENCY_STATISTICS },
  tokens_per_second: { label: 'tokens/s', unit: 'tokens/s', statistics: ['avg', 'rate'] },
  responses_per_second: { label: 'responses/s', unit: 'responses/s', statistics: ['rate'] },
  error_rate: { label: 'error rate', unit: '%', statistics: ['rate'] },
  connection_overhead: { label: 'connection overhead per response', unit: 'ms', statistics: ['avg', 'max'] },
};

export interface RuleFilters {
  service?: string;
  model?: string;
  transport?: string;
}

export interface WebhookTarget {
  url: string;
  format: WebhookFormat;
}

/** A validated rule as stored: what the alert_rules columns hold apart from state. */
export interface RuleDefinition {
  name: string;
  metric: Metric;
  statistic: Statistic;
  comparison: Comparison;
  /** In the metric's unit (ms, tokens/s, responses/s, %). */
  threshold: number;
  windowSeconds: number;
  pendingSeconds: number;
  /** Fewer responses than this in the window give no value, so never a breach; 0 for any number. */
  minResponses: number;
  filters: RuleFilters;
  webhooks: WebhookTarget[];
  enabled: boolean;
}

/**
 * A rule as users write it (API bodies, rules files) and as the API returns it, so a rule
 * read from the API can be edited and sent back. Durations are "5m"-style strings or seconds.
 */
export interface RuleInput {
  name: string;
  metric: Metric;
  statistic: Statistic;
  comparison: Comparison;
  threshold: number | string;
  unit?: string;
  window: string | number;
  pending?: string | number;
  minResponses?: number;
  filters?: RuleFilters;
  webhooks?: (string | { url: string; format?: WebhookFormat })[];
  enabled?: boolean;
}

export interface FieldError {
  /** The input field, dotted for nested ones: "threshold", "webhooks[1].url". */
  field: string;
  message: string;
}

export type Validation = { ok: true; rule: RuleDefinition } | { ok: false; errors: FieldError[] };

/** Fields the API returns alongside a rule; accepted back and ignored, so a read rule can be re-sent. */
const READ_ONLY_FIELDS = ['id', 'state', 'stateSince', 'lastValue', 'lastResponses', 'lastEvaluatedAt', 'createdAt', 'updatedAt', 'description'];
const RULE_FIELDS = ['name', 'metric', 'statistic', 'comparison', 'threshold', 'unit', 'window', 'pending', 'minResponses', 'filters', 'webhooks', 'enabled'];

const MIN_WINDOW_SECONDS = 60;
const MAX_DURATION_SECONDS = 7 * 24 * 3600;
const DURATION_UNITS: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };

/** "90s", "5m", "1h30m", or a number of seconds; null when not a duration. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (!/^(\d+[dhms])+$/.test(text)) return /^\d+$/.test(text) ? Number(text) : null;
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([dhms])/g)) seconds += Number(n) * DURATION_UNITS[unit];
  return seconds;
}

export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  let rest = seconds;
  let text = '';
  for (const [unit, size] of Object.entries(DURATION_UNITS)) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

/** Host patterns from STREAMSCOPE_WEBHOOK_ALLOWLIST ("hooks.slack.com,*.example.com"); empty allows any host. */
export function webhookAllowlist(env: Env = process.env): string[] {
  return (env.STREAMSCOPE_WEBHOOK_ALLOWLIST ?? '')
    .split(',')
    .map((host) => host.trim().toLowerCase())
    .filter(Boolean);
}

/** Why a webhook URL may not be called, or null when it may. */
export function webhookUrlProblem(url: string, allowlist: readonly string[]): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL';
  const host = parsed.hostname.toLowerCase();
  const allowed =
    allowlist.length === 0 ||
    allowlist.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern));
  return allowed ? null : `host ${host} is not in STREAMSCOPE_WEBHOOK_ALLOWLIST`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const oneOf = <T extends string>(values: readonly T[], value: unknown): value is T =>
  typeof value === 'string' && (values as readonly string[]).includes(value);

const listOf = (values: readonly string[]) => values.join(', ');

const THRESHOLD_TEXT = /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|tokens\/s|responses\/s|%)?\s*$/;

/** Threshold and optional unit → the value in the metric's unit; "0.3s" and unit "s" convert to ms. */
function parseThreshold(value: unknown, unitField: unknown, metricUnit: Unit | undefined, errors: FieldError[]): number | undefined {
  let amount: number;
  let unit = unitField;
  const written = typeof value === 'string' ? THRESHOLD_TEXT.exec(value) : null;
  if (typeof value === 'number') {
    amount = value;
  } else if (written) {
    amount = Number(written[1]);
    unit = written[2] ?? unit;
  } else {
    errors.push({ field: 'threshold', message: value === undefined ? 'is required' : 'must be a number, optionally with its unit ("300ms", "5%")' });
    return undefined;
  }
  if (!Number.isFinite(amount)) {
    errors.push({ field: 'threshold', message: 'must be a number' });
    return undefined;
  }
  if (amount < 0) {
    errors.push({ field: 'threshold', message: 'must not be negative' });
    return undefined;
  }
  if (unit === undefined || unit === '' || metricUnit === undefined || unit === metricUnit) return amount;
  if (unit === 's' && metricUnit === 'ms') return amount * 1000;
  errors.push({ field: 'unit', message: `this metric is measured in ${metricUnit}${metricUnit === 'ms' ? ' (or s)' : ''}` });
  return undefined;
}

function parseFilters(value: unknown, metric: Metric | undefined, errors: FieldError[]): RuleFilters {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) {
    errors.push({ field: 'filters', message: 'must be an object with service, model and/or transport' });
    return {};
  }
  const filters: RuleFilters = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = `filters.${key}`;
    if (key !== 'service' && key !== 'model' && key !== 'transport') {
      errors.push({ field, message: 'unknown filter; use service, model or transport' });
    } else if (raw === undefined || raw === null || raw === '') {
      continue;
    } else if (typeof raw !== 'string') {
      errors.push({ field, message: 'must be a string' });
    } else if (key === 'transport' && !oneOf(TRANSPORTS, raw)) {
      errors.push({ field, message: `must be one of ${listOf(TRANSPORTS)}` });
    } else if (key === 'model' && metric === 'connection_overhead') {
      errors.push({ field, message: 'connections are not recorded per model; filter by service or transport' });
    } else {
      filters[key] = raw;
    }
  }
  return filters;
}

function parseWebhooks(value: unknown, allowlist: readonly string[], errors: FieldError[]): WebhookTarget[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    errors.push({ field: 'webhooks', message: 'must be a list of URLs or { url, format } objects' });
    return [];
  }
  const targets: WebhookTarget[] = [];
  value.forEach((item: unknown, i) => {
    const target = typeof item === 'string' ? { url: item } : item;
    if (!isRecord(target) || typeof target.url !== 'string') {
      errors.push({ field: `webhooks[${i}].url`, message: 'is required' });
      return;
    }
    const problem = webhookUrlProblem(target.url, allowlist);
    if (problem) errors.push({ field: `webhooks[${i}].url`, message: problem });
    const format = target.format ?? 'json';
    if (!oneOf(WEBHOOK_FORMATS, format)) errors.push({ field: `webhooks[${i}].format`, message: `must be one of ${listOf(WEBHOOK_FORMATS)}` });
    else if (!problem) targets.push({ url: target.url, format });
  });
  return targets;
}

const MAX_MIN_RESPONSES = 1_000_000_000;

/**
 * Whether a rule on `metric` may ask for a minimum of responses: not one on traffic itself,
 * which must see it fall to nothing. The form hides the field where the API would refuse it.
 */
export const takesMinResponses = (metric: Metric) => metric !== 'responses_per_second';

function parseMinResponses(value: unknown, metric: Metric | undefined, errors: FieldError[]): number {
  if (value === undefined || value === null || value === 0) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_MIN_RESPONSES) {
    errors.push({ field: 'minResponses', message: 'must be a whole number of responses, 0 or more' });
  } else if (metric && !takesMinResponses(metric)) {
    errors.push({ field: 'minResponses', message: 'does not apply to responses/s: a rule on traffic must see it fall to nothing' });
  } else {
    return value;
  }
  return 0;
}

function parseDurationField(field: string, value: unknown, min: number, errors: FieldError[]): number | undefined {
  const seconds = parseDuration(value);
  if (seconds === null) {
    errors.push({ field, message: value === undefined ? 'is required' : 'must be a duration such as "30s", "5m", "1h" or a number of seconds' });
  } else if (seconds < min) {
    errors.push({ field, message: `must be at least ${formatDuration(min)}` });
  } else if (seconds > MAX_DURATION_SECONDS) {
    errors.push({ field, message: `must be at most ${formatDuration(MAX_DURATION_SECONDS)}` });
  } else {
    return seconds;
  }
  return undefined;
}

/**
 * Checks a rule from an untrusted source and normalises it. Every problem is reported,
 * each naming its field, so a form can show all of them next to their inputs at once.
 */
export function validateRule(input: unknown, env: Env = process.env): Validation {
  if (!isRecord(input)) return { ok: false, errors: [{ field: '', message: 'a rule must be a JSON object' }] };
  const errors: FieldError[] = [];
  for (const key of Object.keys(input)) {
    if (!RULE_FIELDS.includes(key) && !READ_ONLY_FIELDS.includes(key)) errors.push({ field: key, message: 'unknown field' });
  }

  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (!name) errors.push({ field: 'name', message: 'is required' });
  else if (name.length > 200) errors.push({ field: 'name', message: 'must be at most 200 characters' });

  const metric = oneOf(METRICS, input.metric) ? input.metric : undefined;
  if (!metric) errors.push({ field: 'metric', message: `must be one of ${listOf(METRICS)}` });
  const spec = metric && METRIC_SPECS[metric];

  // A metric with a single statistic needs none spelled out ("error_rate > 5%").
  const statistic = input.statistic ?? (spec?.statistics.length === 1 ? spec.statistics[0] : undefined);
  if (!oneOf(STATISTICS, statistic)) {
    errors.push({ field: 'statistic', message: `must be one of ${listOf(spec?.statistics ?? STATISTICS)}` });
  } else if (spec && !spec.statistics.includes(statistic)) {
    errors.push({ field: 'statistic', message: `${spec.label} supports ${listOf(spec.statistics)}` });
  }

  if (!oneOf(COMPARISONS, input.comparison)) errors.push({ field: 'comparison', message: `must be one of ${listOf(COMPARISONS)}` });
  const threshold = parseThreshold(input.threshold, input.unit, spec?.unit, errors);
  const windowSeconds = parseDurationField('window', input.window, MIN_WINDOW_SECONDS, errors);
  const pendingSeconds = parseDurationField('pending', input.pending ?? 0, 0, errors);
  const minResponses = parseMinResponses(input.minResponses, metric, errors);
  const filters = parseFilters(input.filters, metric, errors);
  const webhooks = parseWebhooks(input.webhooks, webhookAllowlist(env), errors);
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') errors.push({ field: 'enabled', message: 'must be true or false' });

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    rule: {
      name,
      metric: metric!,
      statistic: statistic as Statistic,
      comparison: input.comparison as Comparison,
      threshold: threshold!,
      windowSeconds: windowSeconds!,
      pendingSeconds: pendingSeconds!,
      minResponses,
      filters,
      webhooks,
      enabled: input.enabled !== false,
    },
  };
}

/** The stored row's definition, typed. Rows are written only through validateRule. */
export function ruleDefinition(row: AlertRule): RuleDefinition {
  return {
    name: row.name,
    metric: row.metric as Metric,
    statistic: row.statistic as Statistic,
    comparison: row.comparison as Comparison,
    threshold: row.threshold,
    windowSeconds: row.windowSeconds,
    pendingSeconds: row.pendingSeconds,
    minResponses: row.minResponses,
    filters: row.filters,
    webhooks: row.webhooks,
    enabled: row.enabled,
  };
}

/** A definition in the shape users write, the inverse of validateRule. */
export function toRuleInput(rule: RuleDefinition): RuleInput & { unit: Unit; window: string; pending: string; minResponses: number } {
  return {
    name: rule.name,
    metric: rule.metric,
    statistic: rule.statistic,
    comparison: rule.comparison,
    threshold: rule.threshold,
    unit: METRIC_SPECS[rule.metric].unit,
    window: formatDuration(rule.windowSeconds),
    pending: formatDuration(rule.pendingSeconds),
    minResponses: rule.minResponses,
    filters: rule.filters,
    webhooks: rule.webhooks,
    enabled: rule.enabled,
  };
}

export function formatValue(value: number, unit: Unit): string {
  const rounded = Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3));
  return unit === '%' ? `${rounded}%` : `${rounded} ${unit}`;
}

/**
 * An evaluation's value in its rule's unit; "no data" where no traffic matched, and "too
 * few responses (3 of 20)" where the rule's minimum held the value back: the page and the
 * notifications say the same.
 */
export function readingText(rule: { metric: Metric; minResponses: number }, value: number | null, responses: number | null): string {
  if (value === null && responses && responses < rule.minResponses) return `too few responses (${responses} of ${rule.minResponses})`;
  return value === null ? 'no data' : formatValue(value, METRIC_SPECS[rule.metric].unit);
}

/** "TTFT p99 > 300 ms over 5m (model=gpt-x, transport=websocket), from 20 responses": the condition in words. */
export function describeCondition(rule: RuleDefinition): string {
  const spec = METRIC_SPECS[rule.metric];
  const statistic = rule.statistic === 'rate' ? '' : ` ${rule.statistic}`;
  const filters = Object.entries(rule.filters).map(([key, value]) => `${key}=${value}`);
  const scope = filters.length ? ` (${filters.join(', ')})` : '';
  const sample = rule.minResponses > 0 ? `, from ${rule.minResponses} responses` : '';
  return `${spec.label}${statistic} ${rule.comparison} ${formatValue(rule.threshold, spec.unit)} over ${formatDuration(rule.windowSeconds)}${scope}${sample}`;
}

/** Whether a value breaches the rule; no data (null) never does. */
export function breaches(rule: Pick<RuleDefinition, 'comparison' | 'threshold'>, value: number | null): boolean {
  if (value === null) return false;
  switch (rule.comparison) {
    case '>':
      return value > rule.threshold;
    case '>=':
      return value >= rule.threshold;
    case '<':
      return value < rule.threshold;
    case '<=':
      return value <= rule.threshold;
  }
}
