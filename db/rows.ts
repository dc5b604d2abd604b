import type { SQL } from 'drizzle-orm';
import type { Db } from './client';

/**
 * Runs raw SQL and returns its rows. postgres-js resolves to an array of rows and PGlite
 * to `{ rows }`; callers of raw SQL (fast paths, aggregates the query builder cannot
 * express) should not care which driver is underneath.
 */
export async function queryRows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
