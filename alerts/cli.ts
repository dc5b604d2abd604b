/*
 * The `alerts` command, minus opening the store (the CLI entry point owns that):
 *
 *   alerts apply <rules.json> [--prune]   create/update rules by name; --prune deletes the rest
 *   alerts list                           each rule's state and condition
 *
 * Returns the process exit code: 0 done, 1 a bad rules file, 2 a usage error.
 */
import type { Store } from '../db/client';
import { describeCondition, ruleDefinition } from './rule';
import { applyRulesFile, RulesFileError, type ApplySummary } from './rules-file';
import { listRules } from './rules-store';

export interface CliIo {
  store: Store;
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: alerts apply <rules.json> [--prune] | alerts list';

export function describeSummary(summary: ApplySummary): string[] {
  const lines = Object.entries(summary)
    .filter(([, names]) => names.length > 0)
    .map(([change, names]) => `${change} (${names.length}): ${names.join(', ')}`);
  return lines.length > 0 ? lines : ['no rules in the file and none stored'];
}

export async function runAlertsCli(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'list' && rest.length === 0) {
    for (const rule of await listRules(io.store.db)) {
      io.out(`${rule.enabled ? rule.state : 'disabled'}\t${rule.name}\t${describeCondition(ruleDefinition(rule))}`);
    }
    return 0;
  }
  const files = rest.filter((arg) => arg !== '--prune');
  if (command !== 'apply' || files.length !== 1 || files[0].startsWith('-')) {
    io.err(USAGE);
    return 2;
  }
  try {
    const summary = await applyRulesFile(io.store, files[0], { prune: rest.includes('--prune') });
    describeSummary(summary).forEach(io.out);
    return 0;
  } catch (error) {
    if (!(error instanceof RulesFileError)) throw error;
    io.err(`${error.path}: nothing applied`);
    for (const { field, message } of error.errors) io.err(`  ${field || '(file)'}: ${message}`);
    return 1;
  }
}
