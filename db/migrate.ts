/*
 * Applies the committed drizzle-kit migrations. Kept apart from client.ts so that the
 * dashboard bundle never references the migrations folder.
 */
import { fileURLToPath } from 'node:url';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import postgres from 'postgres';
import type { Store } from './client';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/** Any fixed 64-bit number: serialises migrations when several collectors start at once. */
const MIGRATION_LOCK_ID = 7_163_254_001;

export async function migrateStore(store: Store): Promise<void> {
  if (store.driver === 'pglite') {
    await migratePglite(store.db as unknown as PgliteDatabase, { migrationsFolder: MIGRATIONS_FOLDER });
    return;
  }
  // The advisory lock is per session, so migrate over a one-connection client that holds it.
  const sql = postgres(store.databaseUrl!, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migratePostgres(drizzlePostgres(sql), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await sql.end({ timeout: 5 });
  }
}
