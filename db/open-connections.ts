/*
 * Connections reported open whose reports stopped. The instrumentation reports a connection
 * every 30 s (by default) while it lives and once more when it closes; a process that dies
 * sends no closing span, and its connections would count as in use for ever. The
 * collector's maintenance (every minute, db/partitions.ts) closes those not heard from for
 * OPEN_CONNECTION_LEASE_MS at the time their last report was stored and marks them
 * `expired`; their rollups change as a closing span's would. A closing span that arrives
 * after all replaces the row (db/ingest.ts).
 */
import { and, isNull, lt, sql } from 'drizzle-orm';
import type { Db, Store } from './client';
import { connectionRollupChange } from './connection-rollups';
import { EXPIRED_STATUS, mergeConnectionRollups } from './ingest';
import { connections } from './schema';

/** Ten of the instrumentation's default report intervals. */
export const OPEN_CONNECTION_LEASE_MS = 5 * 60_000;

/**
 * Closes the connections whose last open report was stored before `now` − lease, and drops
 * open reports stored beside their connection's closing span; returns how many closed.
 */
export async function expireOpenConnections(store: Store, { now = new Date(), leaseMs = OPEN_CONNECTION_LEASE_MS } = {}): Promise<number> {
  return store.db.transaction(async (tx) => {
    const db = tx as unknown as Db;
    // An open report and the closing span stored at once by two collectors leave both rows.
    const superseded = await db
      .delete(connections)
      .where(sql`${connections.closedAt} is null and exists (select 1 from connections c
        where c.connection_id = ${connections.connectionId} and c.opened_at = ${connections.openedAt} and c.closed_at is not null)`)
      .returning();
    const expired = await db
      .update(connections)
      .set({ closedAt: sql`greatest(${connections.openedAt}, ${connections.ingestedAt})`, status: EXPIRED_STATUS })
      .where(and(isNull(connections.closedAt), lt(connections.ingestedAt, new Date(now.getTime() - leaseMs))))
      .returning();
    // Before the update each row was the same but open, which is what its rollups counted.
    const wasOpen = expired.map((row) => ({ ...row, closedAt: null }));
    await mergeConnectionRollups(db, connectionRollupChange(expired, [...wasOpen, ...superseded]));
    return expired.length;
  });
}
