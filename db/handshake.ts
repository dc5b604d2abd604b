import { sql } from 'drizzle-orm';
import type { NewConnectionRow } from './schema';

/**
 * A connection's setup cost in ms, as SQL over the connections table: DNS + TCP + TLS, or
 * the single connect figure when the phases were not reported apart (fetch over TLS, the
 * global WebSocket), plus the WebSocket upgrade. One definition for every view and alert.
 */
export const HANDSHAKE_MS = sql`(greatest(coalesce(dns_ms, 0) + coalesce(tcp_ms, 0) + coalesce(tls_ms, 0), coalesce(connect_ms, 0)) + coalesce(upgrade_ms, 0))`;

/** The columns HANDSHAKE_MS reads, for queries that select them from a subquery. */
export const HANDSHAKE_INPUTS = sql`dns_ms, tcp_ms, tls_ms, connect_ms, upgrade_ms`;

/** HANDSHAKE_MS of one row: the rollups written at ingest, and the pages that show one connection. */
export function handshakeMsOf(c: Pick<NewConnectionRow, 'dnsMs' | 'tcpMs' | 'tlsMs' | 'connectMs' | 'upgradeMs'>): number {
  return Math.max((c.dnsMs ?? 0) + (c.tcpMs ?? 0) + (c.tlsMs ?? 0), c.connectMs ?? 0) + (c.upgradeMs ?? 0);
}
