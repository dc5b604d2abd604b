import { sql } from 'drizzle-orm';

/**
 * A connection's setup cost in ms, as SQL over the connections table: DNS + TCP + TLS, or
 * the single connect figure when the phases were not reported apart (fetch over TLS, the
 * global WebSocket), plus the WebSocket upgrade. One definition for every view and alert.
 */
export const HANDSHAKE_MS = sql`(greatest(coalesce(dns_ms, 0) + coalesce(tcp_ms, 0) + coalesce(tls_ms, 0), coalesce(connect_ms, 0)) + coalesce(upgrade_ms, 0))`;
