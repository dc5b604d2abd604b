/*
 * Connections: what each handshake phase costs, how long connections live, and how many
 * responses each carries. Connections carry service and transport but no model, so the
 * model filter does not apply here.
 */
import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../client';
import { queryRows } from '../rows';
import { connections, type ConnectionRow } from '../schema';
import { filterConditions, type DashboardFilter } from './filter';

export interface TransportConnectionSummary {
  transport: string;
  connections: number;
  /** Mean of each phase over the connections that went through it, ms. */
  dnsMs: number | null;
  tcpMs: number | null;
  tlsMs: number | null;
  upgradeMs: number | null;
  lifetimeP50Ms: number | null;
  lifetimeP99Ms: number | null;
  responsesPerConnection: number | null;
}

export interface ResponsesPerConnectionBin {
  label: string;
  connections: number;
}

export interface ConnectionsView {
  summary: TransportConnectionSummary[];
  distribution: ResponsesPerConnectionBin[];
  /** The most recently opened connections of the range. */
  recent: (ConnectionRow & { lifetimeMs: number | null })[];
}

/** Upper bounds of the responses-per-connection bins; the last bin is open-ended. */
const DISTRIBUTION_BOUNDS = [1, 2, 5, 20, 100];

function binLabel(index: number): string {
  const upper = DISTRIBUTION_BOUNDS[index];
  const lower = index === 0 ? 0 : DISTRIBUTION_BOUNDS[index - 1] + 1;
  if (upper === undefined) return `> ${DISTRIBUTION_BOUNDS[DISTRIBUTION_BOUNDS.length - 1]}`;
  return lower === upper ? String(upper) : `${lower}–${upper}`;
}

/** Time spent before the connection could carry a byte: DNS + TCP + TLS + upgrade, phases not taken count 0. */
export function handshakeMs(c: Pick<ConnectionRow, 'dnsMs' | 'tcpMs' | 'tlsMs' | 'upgradeMs'>): number {
  return (c.dnsMs ?? 0) + (c.tcpMs ?? 0) + (c.tlsMs ?? 0) + (c.upgradeMs ?? 0);
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export async function connectionsView(db: Db, filter: DashboardFilter, recentLimit = 24): Promise<ConnectionsView> {
  const where = filterConditions(filter, sql`opened_at`, ['service', 'transport']);
  const lifetimeMs = sql`extract(epoch from (closed_at - opened_at)) * 1000`;
  const [summaryRows, distributionRows, recent] = await Promise.all([
    queryRows<Record<string, unknown>>(
      db,
      sql`select coalesce(transport, '') as transport, count(*)::float8 as connections,
                 avg(dns_ms)::float8 as dns_ms, avg(tcp_ms)::float8 as tcp_ms,
                 avg(tls_ms)::float8 as tls_ms, avg(upgrade_ms)::float8 as upgrade_ms,
                 percentile_cont(0.5) within group (order by ${lifetimeMs}) as lifetime_p50,
                 percentile_cont(0.99) within group (order by ${lifetimeMs}) as lifetime_p99,
                 avg(responses)::float8 as responses_per_connection
          from connections where ${where}
          group by 1 order by 1`,
    ),
    queryRows<{ bin: number; connections: number }>(
      db,
      sql`select width_bucket(coalesce(responses, 0), ${sql`array[${sql.join(
        DISTRIBUTION_BOUNDS.map((b) => sql`${b + 1}::int`),
        sql`, `,
      )}]`}) as bin, count(*)::float8 as connections
          from connections where ${where} group by 1`,
    ),
    db
      .select()
      .from(connections)
      .where(
        and(
          gte(connections.openedAt, filter.from),
          lt(connections.openedAt, filter.to),
          filter.service ? eq(connections.service, filter.service) : undefined,
          filter.transport ? eq(connections.transport, filter.transport) : undefined,
        ),
      )
      .orderBy(desc(connections.openedAt))
      .limit(recentLimit),
  ]);
  const counts = new Map(distributionRows.map((row) => [Number(row.bin), Number(row.connections)]));
  return {
    summary: summaryRows.map((row) => ({
      transport: String(row.transport),
      connections: Number(row.connections),
      dnsMs: num(row.dns_ms),
      tcpMs: num(row.tcp_ms),
      tlsMs: num(row.tls_ms),
      upgradeMs: num(row.upgrade_ms),
      lifetimeP50Ms: num(row.lifetime_p50),
      lifetimeP99Ms: num(row.lifetime_p99),
      responsesPerConnection: num(row.responses_per_connection),
    })),
    distribution: [...DISTRIBUTION_BOUNDS, null].map((_, i) => ({ label: binLabel(i), connections: counts.get(i) ?? 0 })),
    recent: recent.map((row) => ({ ...row, lifetimeMs: row.closedAt ? row.closedAt.getTime() - row.openedAt.getTime() : null })),
  };
}
