/*
 * How a Postgres store's connections are set up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { openStore } from '../client';
import { queryRows } from '../rows';
import { createPostgresDatabase } from '../../test/support/databases';

test('Postgres connections run without JIT: compiling a query takes longer than any query here', async () => {
  const database = await createPostgresDatabase();
  const store = await openStore({ databaseUrl: database.url, maxConnections: 2 });
  try {
    // Both connections of the pool, not only the first one opened.
    const settings = await Promise.all([0, 1].map(() => queryRows<{ jit: string }>(store.db, sql`select current_setting('jit') as jit, pg_sleep(0.05)`)));
    assert.deepEqual(settings.map(([row]) => row.jit), ['off', 'off']);
  } finally {
    await store.close();
    await database.drop();
  }
});
