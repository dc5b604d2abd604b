/*
 * Ingest API keys: what an instrumented application sends to the collector, as an OTLP
 * exporter header (`Authorization: Bearer <key>` or `x-api-key: <key>`).
 *
 * A key is 24 random bytes, shown once at creation; only its SHA-256 is stored, with its
 * first characters as a prefix so people can tell keys apart. Keys are revoked, never
 * deleted, so the list keeps their history.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { Store } from '../../db/client';
import { apiKeys } from '../../db/schema';

export interface ApiKeyInfo {
  id: number;
  name: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** Tells Streamscope keys apart from other secrets in a config file or a leak scan. */
export const KEY_MARK = 'ssk_';
const PREFIX_LENGTH = KEY_MARK.length + 8;
const MAX_NAME_LENGTH = 100;

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

const INFO_COLUMNS = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
  lastUsedAt: apiKeys.lastUsedAt,
};

/** Creates a key; the returned `key` is the only copy there will ever be. */
export async function createApiKey(store: Store, name: string): Promise<{ key: string; info: ApiKeyInfo }> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > MAX_NAME_LENGTH) throw new Error(`a key needs a name of 1 to ${MAX_NAME_LENGTH} characters`);
  const key = KEY_MARK + randomBytes(24).toString('base64url');
  const [info] = await store.db.insert(apiKeys)
    .values({ name: trimmed, prefix: key.slice(0, PREFIX_LENGTH), hash: hashApiKey(key) })
    .returning(INFO_COLUMNS);
  return { key, info };
}

export function listApiKeys(store: Store): Promise<ApiKeyInfo[]> {
  return store.db.select(INFO_COLUMNS).from(apiKeys).orderBy(asc(apiKeys.id));
}

/**
 * Revokes the key with that id or prefix. Resolves with it (already revoked keys stay as
 * they were), or null when none matches; a prefix matching several keys is an error.
 */
export async function revokeApiKey(store: Store, idOrPrefix: string): Promise<ApiKeyInfo | null> {
  const byId = /^\d+$/.test(idOrPrefix);
  const matches = await store.db.select(INFO_COLUMNS).from(apiKeys)
    .where(byId ? eq(apiKeys.id, Number(idOrPrefix)) : sql`starts_with(${apiKeys.prefix}, ${idOrPrefix})`);
  if (matches.length === 0) return null;
  if (matches.length > 1) throw new Error(`"${idOrPrefix}" matches ${matches.length} keys (${matches.map((k) => k.id).join(', ')}): give the id`);
  const [match] = matches;
  if (match.revokedAt) return match;
  const [revoked] = await store.db.update(apiKeys).set({ revokedAt: new Date() })
    .where(eq(apiKeys.id, match.id)).returning(INFO_COLUMNS);
  return revoked;
}

export type KeyCheck =
  | { ok: true; keyId?: number }
  | { ok: false; reason: string };

export interface ApiKeyVerifierOptions {
  /** Require a key even when none exists yet (STREAMSCOPE_REQUIRE_API_KEY=true). */
  requireKey?: boolean;
  /** How long the active keys are trusted before they are read again (revocation delay). */
  cacheMs?: number;
  /** How often last_used_at is written for the keys used since. */
  lastUsedFlushMs?: number;
}

export interface ApiKeyVerifier {
  /** Whether a request presenting `key` (undefined: none) may ingest. */
  check(key: string | undefined): Promise<KeyCheck>;
  /** Writes the pending last_used_at updates and stops. */
  close(): Promise<void>;
}

export const DEFAULT_KEY_CACHE_MS = 5000;
export const DEFAULT_LAST_USED_FLUSH_MS = 60_000;

/**
 * Verifies keys against the active ones held in memory, refreshed in the background
 * every `cacheMs`, so a request costs a hash and a few comparisons, never a query.
 * Keys are required once any key has been created, or when `requireKey` says so —
 * revoking the last key (a leaked one, say) must not open ingest to everyone.
 */
export function createApiKeyVerifier(store: Store, options: ApiKeyVerifierOptions = {}): ApiKeyVerifier {
  const { requireKey = false, cacheMs = DEFAULT_KEY_CACHE_MS, lastUsedFlushMs = DEFAULT_LAST_USED_FLUSH_MS } = options;
  let active: { id: number; hash: Buffer }[] | undefined;
  let anyCreated = false;
  let loadedAt = 0;
  let loading: Promise<void> | undefined;
  const used = new Set<number>();
  let flushedAt = Date.now();

  async function load(): Promise<void> {
    const rows = await store.db.select({ id: apiKeys.id, hash: apiKeys.hash, revokedAt: apiKeys.revokedAt }).from(apiKeys);
    active = rows.filter((r) => !r.revokedAt).map((r) => ({ id: r.id, hash: Buffer.from(r.hash, 'hex') }));
    anyCreated = rows.length > 0;
    loadedAt = Date.now();
    if (used.size > 0 && loadedAt - flushedAt >= lastUsedFlushMs) await flush();
  }

  async function flush(): Promise<void> {
    const ids = [...used];
    used.clear();
    flushedAt = Date.now();
    if (ids.length > 0) await store.db.update(apiKeys).set({ lastUsedAt: new Date() }).where(inArray(apiKeys.id, ids));
  }

  function refresh(): Promise<void> {
    // One load at a time; a failed one leaves the previous keys in force until the next.
    loading ??= load().finally(() => (loading = undefined));
    return loading;
  }

  /** Every active hash is compared, whether or not one matched, so timing says nothing of which. */
  function find(key: string): number | undefined {
    const hash = Buffer.from(hashApiKey(key), 'hex');
    let found: number | undefined;
    for (const candidate of active ?? []) if (timingSafeEqual(candidate.hash, hash)) found = candidate.id;
    return found;
  }

  return {
    async check(key) {
      if (!active) await refresh();
      else if (Date.now() - loadedAt >= cacheMs) refresh().catch(() => undefined);
      if (!requireKey && !anyCreated) return { ok: true };
      if (!key) return { ok: false, reason: 'an API key is required: send it as "Authorization: Bearer <key>" or "x-api-key: <key>" (streamscope keys create <name>)' };
      const id = find(key);
      if (id === undefined) return { ok: false, reason: 'the API key is not valid, or was revoked' };
      used.add(id);
      return { ok: true, keyId: id };
    },
    async close() {
      await loading?.catch(() => undefined);
      await flush();
    },
  };
}
