/*
 * A running collector on a suite's database, and the row reads the tests assert on.
 */
import { after, before } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { openStore, type Store } from '../../../db/client';
import { migrateStore } from '../../../db/migrate';
import { queryRows } from '../../../db/rows';
import { connections, responses } from '../../../db/schema';
import { createPostgresDatabase, type TestDatabase } from '../../../test/support/databases';
import { startCollector, type Collector } from '../../index';

/** Small enough that the size tests stay fast; large enough for every other request here. */
export const TEST_MAX_BODY_BYTES = 256 * 1024;

/** Starts a collector on the suite's database before its first test and stops it after the last. */
export function useCollector(database: () => TestDatabase): () => Collector {
  let collector: Collector | undefined;
  before(async () => {
    collector = await startCollector({ store: database().store, port: 0, maxBodyBytes: TEST_MAX_BODY_BYTES });
  });
  after(() => collector?.close());
  return () => {
    if (!collector) throw new Error('the collector starts in before(); use it inside a test');
    return collector;
  };
}

export interface OwnPostgresCollector {
  collector: Collector;
  store: Store;
  databaseUrl: string;
}

/**
 * A collector on a Postgres database of the file's own, with `maxConnections` in its pool,
 * for tests that take the database away or hold its connections; dropped after the last test.
 */
export function useCollectorOnOwnPostgres(maxConnections: number): () => OwnPostgresCollector {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  let running: OwnPostgresCollector | undefined;
  before(async () => {
    database = await createPostgresDatabase();
    const store = await openStore({ databaseUrl: database.url, maxConnections });
    await migrateStore(store);
    running = { collector: await startCollector({ store, port: 0 }), store, databaseUrl: database.url };
  });
  after(async () => {
    await running?.collector.close();
    await running?.store.close();
    await database?.drop();
  });
  return () => {
    if (!running) throw new Error('the collector starts in before(); use it inside a test');
    return running;
  };
}

export async function responseRow(store: Store, spanId: string) {
  const rows = await store.db.select().from(responses).where(eq(responses.spanId, spanId));
  return rows[0];
}

export async function connectionRow(store: Store, spanId: string) {
  const rows = await store.db.select().from(connections).where(eq(connections.spanId, spanId));
  return rows[0];
}

/** Rows of either table written for a service: every test uses its own service name. */
export async function rowCount(store: Store, service: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(store.db, sql`
    select (select count(*) from responses where service = ${service})
         + (select count(*) from connections where service = ${service}) as n`);
  return Number(row.n);
}
