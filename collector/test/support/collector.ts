/*
 * A running collector on a suite's database, and the row reads the tests assert on.
 */
import { after, before } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import type { Store } from '../../../db/client';
import { queryRows } from '../../../db/rows';
import { connections, responses } from '../../../db/schema';
import type { TestDatabase } from '../../../test/support/databases';
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
