/*
 * Rules as code: a JSON file of rules in the API's shape, applied by name. Applying the
 * same file twice changes nothing; --prune also deletes the rules the file no longer has.
 * The whole file is validated before anything is written, and applied in one
 * transaction, so a bad file leaves the rules as they were.
 *
 * JSON only: the one YAML parser in node_modules (js-yaml) is there as a dependency of
 * ESLint, not of this package, so production installs would not have it.
 */
import { readFile } from 'node:fs/promises';
import type { Db, Store } from '../db/client';
import { ruleDefinition, validateRule, type Env, type FieldError, type RuleDefinition } from './rule';
import { deleteRule, insertRule, listRules, updateRule } from './rules-store';

export interface ApplySummary {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

export class RulesFileError extends Error {
  constructor(
    readonly path: string,
    readonly errors: FieldError[],
  ) {
    super(`${path}: ${errors.map((e) => (e.field ? `${e.field} ${e.message}` : e.message)).join('; ')}`);
    this.name = 'RulesFileError';
  }
}

/** JSON with object keys sorted, so jsonb's key order does not count as a change. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Parses and validates a rules file's text: `{ "rules": [...] }` or a bare list. */
export function parseRulesFile(path: string, text: string, env: Env = process.env): RuleDefinition[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RulesFileError(path, [{ field: '', message: `is not valid JSON (${(error as Error).message})` }]);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) throw new RulesFileError(path, [{ field: 'rules', message: 'must be a list of rules' }]);
  const errors: FieldError[] = [];
  const rules: RuleDefinition[] = [];
  const seen = new Set<string>();
  list.forEach((input: unknown, i) => {
    const validation = validateRule(input, env);
    if (!validation.ok) {
      errors.push(...validation.errors.map((e) => ({ field: `rules[${i}]${e.field ? `.${e.field}` : ''}`, message: e.message })));
    } else if (seen.has(validation.rule.name)) {
      errors.push({ field: `rules[${i}].name`, message: `"${validation.rule.name}" appears more than once` });
    } else {
      seen.add(validation.rule.name);
      rules.push(validation.rule);
    }
  });
  if (errors.length > 0) throw new RulesFileError(path, errors);
  return rules;
}

/** Creates or updates each rule by name; with prune, deletes stored rules the list lacks. */
export async function applyRules(db: Db, rules: RuleDefinition[], options: { prune?: boolean; now?: Date } = {}): Promise<ApplySummary> {
  const summary: ApplySummary = { created: [], updated: [], unchanged: [], deleted: [] };
  const now = options.now ?? new Date();
  await db.transaction(async (tx) => {
    const txDb = tx as unknown as Db;
    const existing = new Map((await listRules(txDb)).map((rule) => [rule.name, rule]));
    for (const rule of rules) {
      const current = existing.get(rule.name);
      if (!current) {
        await insertRule(txDb, rule);
        summary.created.push(rule.name);
      } else if (canonical(ruleDefinition(current)) === canonical(rule)) {
        summary.unchanged.push(rule.name);
      } else {
        await updateRule(txDb, current, rule, now);
        summary.updated.push(rule.name);
      }
      existing.delete(rule.name);
    }
    if (!options.prune) return;
    for (const stale of existing.values()) {
      await deleteRule(txDb, stale.id);
      summary.deleted.push(stale.name);
    }
  });
  return summary;
}

/** Reads, validates and applies a rules file; throws RulesFileError naming each bad field. */
export async function applyRulesFile(store: Store, path: string, options: { prune?: boolean; env?: Env } = {}): Promise<ApplySummary> {
  const rules = parseRulesFile(path, await readFile(path, 'utf8'), options.env);
  return applyRules(store.db, rules, { prune: options.prune });
}
