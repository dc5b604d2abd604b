/*
 * The connection factory. DATABASE_URL set → postgres-js against that server;
 * unset → embedded PGlite in a local data directory, so a fresh clone needs no server.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import * as schema from './schema';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Store {
  readonly db: Db;
  readonly driver: 'postgres' | 'pglite';
  /** postgres-js client when driver is 'postgres' (for COPY and reserved sessions). */
  readonly sql?: postgres.Sql;
  /** PGlite instance when driver is 'pglite'. */
  readonly pglite?: PGlite;
  /** The postgres:// URL when driver is 'postgres'. */
  readonly databaseUrl?: string;
  /** Where the data lives: a redacted URL or the PGlite directory. */
  readonly location: string;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres:// URL; when absent, PGlite is used. */
  databaseUrl?: string;
  /** PGlite data directory, or 'memory://' for an in-memory database. */
  dataDir?: string;
  /** postgres-js pool size. */
  maxConnections?: number;
}

export const DEFAULT_DATA_DIR = './data/pglite';

export function storeOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StoreOptions {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.STREAMSCOPE_DATA_DIR || DEFAULT_DATA_DIR,
    maxConnections: env.STREAMSCOPE_DB_POOL ? Number(env.STREAMSCOPE_DB_POOL) : undefined,
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres (unparseable DATABASE_URL)';
  }
}

export async function openStore(options: StoreOptions = storeOptionsFromEnv()): Promise<Store> {
  if (options.databaseUrl) {
    const sql = postgres(options.databaseUrl, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      // Every query here takes milliseconds, and compiling one whose cost estimate passes
      // jit_above_cost takes about 100: the overview's read of the last 15 minutes of
      // responses took 154 ms with JIT, 109 of them compiling, and 62 without (bench/queries).
      connection: { jit: 'off' },
    });
    const db = drizzlePostgres(sql, { schema }) as unknown as Db;
    return {
      db,
      driver: 'postgres',
      sql,
      databaseUrl: options.databaseUrl,
      location: redactUrl(options.databaseUrl),
      close: () => sql.end({ timeout: 5 }),
    };
  }
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  const inMemory = dataDir === 'memory://';
  // PGlite creates the data directory itself but not its parents.
  // (turbopackIgnore: the data directory is chosen at run time, not a bundled asset.)
  if (!inMemory) mkdirSync(path.dirname(path.resolve(/*turbopackIgnore: true*/ dataDir)), { recursive: true });
  return pgliteStore(await PGlite.create(inMemory ? undefined : dataDir), dataDir);
}

/** The store over an open PGlite instance whose data lives at `location` (a directory or 'memory://'). */
export function pgliteStore(pglite: PGlite, location: string): Store {
  const db = drizzlePglite(pglite, { schema }) as unknown as Db;
  return {
    db,
    driver: 'pglite',
    pglite,
    location,
    close: () => pglite.close(),
  };
}

const SHARED_STORE = Symbol.for('streamscope.store');
type GlobalWithStore = typeof globalThis & { [SHARED_STORE]?: Promise<Store> };

/**
 * The process-wide store. The collector and the Next.js server share one process in the
 * default mode, but Next bundles its own copy of this module, so the instance lives on
 * globalThis: PGlite allows one opener per data directory.
 */
export function sharedStore(): Promise<Store> {
  const g = globalThis as GlobalWithStore;
  g[SHARED_STORE] ??= openStore();
  return g[SHARED_STORE];
}

export function setSharedStore(store: Store): void {
  (globalThis as GlobalWithStore)[SHARED_STORE] = Promise.resolve(store);
}
