/*
 * Runs a suite against both databases Streamscope supports: a real PostgreSQL server (a
 * database created for the run and dropped after it) and embedded PGlite (in memory).
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe } from 'node:test';
import postgres from 'postgres';
import { openStore, pgliteStore, type Store } from '../../db/client';
import { migrateStore } from '../../db/migrate';
import { openMigratedPglite } from './pglite-template';

/** Server used to create the per-run database. Override with STREAMSCOPE_TEST_POSTGRES_URL. */
export const ADMIN_URL = process.env.STREAMSCOPE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export type DatabaseKind = 'postgres' | 'pglite';

export interface TestDatabase {
  readonly kind: DatabaseKind;
  /** The migrated store; valid inside the suite's tests. */
  readonly store: Store;
  /** The URL of the run's database when kind is 'postgres' (for other processes). */
  readonly databaseUrl?: string;
}

export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `streamscope_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    await admin.end();
    throw new Error(
      `cannot create a test database on ${ADMIN_URL} (${(error as Error).message}); ` +
        'start PostgreSQL or set STREAMSCOPE_TEST_POSTGRES_URL',
    );
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export async function openTestDatabase(kind: DatabaseKind): Promise<TestDatabase & { close(): Promise<void> }> {
  if (kind === 'pglite') {
    const store = pgliteStore(await openMigratedPglite(), 'memory://');
    return { kind, store, close: () => store.close() };
  }
  const database = await createPostgresDatabase();
  const store = await openStore({ databaseUrl: database.url, maxConnections: 5 });
  await migrateStore(store);
  return {
    kind,
    store,
    databaseUrl: database.url,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}

/**
 * Declares `describe(`${title} [postgres]`)` and `describe(`${title} [pglite]`)`; `body`
 * receives a getter for the suite's migrated database, created before its first test.
 */
export function describeEachDatabase(title: string, body: (database: () => TestDatabase) => void): void {
  for (const kind of ['postgres', 'pglite'] as const) {
    describe(`${title} [${kind}]`, () => {
      let database: (TestDatabase & { close(): Promise<void> }) | undefined;
      before(async () => {
        database = await openTestDatabase(kind);
      });
      after(async () => {
        await database?.close();
      });
      body(() => {
        if (!database) throw new Error('the test database is opened in before(); use it inside a test');
        return database;
      });
    });
  }
}
