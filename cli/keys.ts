/*
 * `streamscope keys create <name> | list | revoke <id|prefix>`: ingest API keys. Once any
 * key exists the collector requires one (header `Authorization: Bearer <key>` or
 * `x-api-key`). With the embedded PGlite database, run this while `start` is stopped:
 * only one process may open its data directory.
 */
import { openStore, type Store } from '../db/client';
import { migrateStore } from '../db/migrate';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyInfo } from '../lib/api-keys/index';

const USAGE = 'usage: streamscope keys create <name> | list | revoke <id|prefix>';

const when = (date: Date | null) => (date ? date.toISOString().replace(/\.\d+Z$/, 'Z') : '-');

function table(keys: ApiKeyInfo[]): string[] {
  const rows = [['id', 'name', 'prefix', 'created', 'last used', 'revoked'],
    ...keys.map((k) => [String(k.id), k.name, k.prefix, when(k.createdAt), when(k.lastUsedAt), when(k.revokedAt)])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}

/** Runs one keys subcommand; resolves with the exit code. */
export async function runKeysCli(args: string[], store: Store, out: (line: string) => void): Promise<number> {
  const [action, ...rest] = args;
  const argument = rest.join(' ').trim();
  if (action === 'create' && argument) {
    const { key, info } = await createApiKey(store, argument);
    out(`created key ${info.id} "${info.name}":`);
    out(`  ${key}`);
    out('shown once: only its hash is stored. Exporters send it as the header "Authorization: Bearer <key>",');
    out(`e.g. OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer ${key}"`);
    return 0;
  }
  if (action === 'list' && !argument) {
    const keys = await listApiKeys(store);
    if (keys.length === 0) out('no API keys: ingest is open (create one to require it)');
    else table(keys).forEach((line) => out(line));
    return 0;
  }
  if (action === 'revoke' && argument) {
    const revoked = await revokeApiKey(store, argument);
    if (!revoked) {
      out(`no key with id or prefix "${argument}"`);
      return 1;
    }
    out(`revoked key ${revoked.id} "${revoked.name}" (${revoked.prefix}…); running collectors refuse it within seconds`);
    return 0;
  }
  out(USAGE);
  return 2;
}

export async function keysCommand(args: string[]): Promise<void> {
  const store = await openStore();
  try {
    await migrateStore(store);
    process.exitCode = await runKeysCli(args, store, (line) => console.log(line));
  } finally {
    await store.close();
  }
}
