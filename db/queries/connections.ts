/*
 * Connections: what each handshake phase costs, how long connections live, and how many
 * responses each carries. Connections carry service and transport but no model, so the
 * model filter does not apply here.
 */
import { and, desc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../client';
import { queryRows } from '../rows';
import { connections, type ConnectionRow } from '../schema';
import { CARRIED_COLUMNS, RESPONSES_PER_CONNECTION_BOUNDS } from '../connection-rollups';
import { histogramQuantiles } from '../histogram';
import { exactQuantiles } from './aggregate';
import { CONNECTION_TABLES } from './connections-in-use';
import { filterConditions, percentileSource, type DashboardFilter, type PercentileSource } from './filter';
import { addCounts, rollupSource } from './rollup-rows';

export interface TransportConnectionSummary {
  transport: string;
  connections: number;
  /** Of those, the ones still open at their latest report (no lifetime yet). */
  open: number;
  /** Mean of each phase over the connections that went through it, ms. */
  dnsMs: number | null;
  tcpMs: number | null;
  tlsMs: number | null;
  upgradeMs: number | null;
  /** Connect start to a usable transport (DNS + TCP + TLS, or one figure where they are not told apart). */
  connectMs: number | null;
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

function binLabel(index: number): string {
  const bounds = RESPONSES_PER_CONNECTION_BOUNDS;
  const upper = bounds[index];
  const lower = index === 0 ? 0 : bounds[index - 1] + 1;
  if (upper === undefined) return `> ${bounds[bounds.length - 1]}`;
  return lower === upper ? String(upper) : `${lower}–${upper}`;
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

interface Summary {
  summary: TransportConnectionSummary[];
  /** Connections per bin of RESPONSES_PER_CONNECTION_BOUNDS. */
  bins: number[];
}

/** Exact lifetimes and phase means of the range's connections, from raw rows. */
async function fromRawRows(db: Db, filter: DashboardFilter): Promise<Summary> {
  const where = filterConditions(filter, sql`opened_at`, ['service', 'transport']);
  const [lifetimeP50, , lifetimeP99] = [0, 1, 2].map((i) => sql`(${exactQuantiles(sql`(extract(epoch from (closed_at - opened_at)) * 1000)::float8`)})[${i + 1}]`);
  const [summaryRows, binRows] = await Promise.all([
    queryRows<Record<string, unknown>>(
      db,
      sql`select coalesce(transport, '') as transport, count(*)::float8 as connections,
                 (count(*) filter (where closed_at is null))::float8 as open,
                 avg(dns_ms)::float8 as dns_ms, avg(tcp_ms)::float8 as tcp_ms,
                 avg(tls_ms)::float8 as tls_ms, avg(upgrade_ms)::float8 as upgrade_ms, avg(connect_ms)::float8 as connect_ms,
                 ${lifetimeP50} as lifetime_p50, ${lifetimeP99} as lifetime_p99,
                 avg(responses)::float8 as responses_per_connection
          from connections where ${where}
          group by 1 order by 1`,
    ),
    queryRows<{ bin: number; connections: number }>(
      db,
      sql`select width_bucket(coalesce(responses, 0), ${sql`array[${sql.join(
        RESPONSES_PER_CONNECTION_BOUNDS.map((b) => sql`${b + 1}::int`),
        sql`, `,
      )}]`}) as bin, count(*)::float8 as connections
          from connections where ${where} group by 1`,
    ),
  ]);
  const counts = new Map(binRows.map((row) => [Number(row.bin), Number(row.connections)]));
  return {
    summary: summaryRows.map((row) => ({
      transport: String(row.transport),
      connections: Number(row.connections),
      open: Number(row.open),
      dnsMs: num(row.dns_ms),
      tcpMs: num(row.tcp_ms),
      tlsMs: num(row.tls_ms),
      upgradeMs: num(row.upgrade_ms),
      connectMs: num(row.connect_ms),
      lifetimeP50Ms: num(row.lifetime_p50),
      lifetimeP99Ms: num(row.lifetime_p99),
      responsesPerConnection: num(row.responses_per_connection),
    })),
    bins: BINS.map((_, i) => counts.get(i) ?? 0),
  };
}

const BINS = [...RESPONSES_PER_CONNECTION_BOUNDS, null];
const PHASES = ['dns', 'tcp', 'tls', 'upgrade', 'connect'] as const;

/**
 * The same figures from the connection rollups of the minutes (and hours) the range
 * holds: means from sums and counts, lifetimes from the merged histograms (within
 * RELATIVE_ACCURACY of the exact values).
 */
async function fromRollups(db: Db, filter: DashboardFilter): Promise<Summary> {
  const sums = sql.raw([
    'sum(connections)::float8 as connections', 'sum(responses)::float8 as responses', 'sum(responses_reported)::float8 as responses_reported',
    ...PHASES.flatMap((phase) => [`sum(${phase}_ms_sum)::float8 as ${phase}_ms_sum`, `sum(${phase}_count)::float8 as ${phase}_count`]),
    ...CARRIED_COLUMNS.map((column) => `sum(${column})::float8 as ${column}`),
    // One text of every histogram, added up by addCounts.
    "string_agg(lifetime_hist::text, '') as lifetime_hist",
  ].join(', '));
  const [rows, openRows] = await Promise.all([
    queryRows<Record<string, unknown>>(
      db,
      sql`select transport, ${sums}
          from (${rollupSource(filter, { hours: true, columns: sql`*`, tables: CONNECTION_TABLES })}) c
          group by 1 having sum(connections) > 0 order by 1`,
    ),
    // Rollups do not tell open connections apart; the few still open are read raw (partial index).
    queryRows<{ transport: string; open: number }>(
      db,
      sql`select coalesce(transport, '') as transport, count(*)::float8 as open from connections
          where closed_at is null and ${filterConditions(filter, sql`opened_at`, ['service', 'transport'])} group by 1`,
    ),
  ]);
  const open = new Map(openRows.map((row) => [String(row.transport), Number(row.open)]));
  const mean = (sum: unknown, n: unknown) => (Number(n) > 0 ? Number(sum) / Number(n) : null);
  return {
    summary: rows.map((row) => {
      const lifetimes = new Map<number, number>();
      addCounts(lifetimes, String(row.lifetime_hist ?? ''));
      const [p50, p99] = histogramQuantiles(lifetimes, [0.5, 0.99]);
      const [dnsMs, tcpMs, tlsMs, upgradeMs, connectMs] = PHASES.map((phase) => mean(row[`${phase}_ms_sum`], row[`${phase}_count`]));
      return {
        transport: String(row.transport),
        connections: Number(row.connections),
        open: open.get(String(row.transport)) ?? 0,
        dnsMs, tcpMs, tlsMs, upgradeMs, connectMs,
        lifetimeP50Ms: p50,
        lifetimeP99Ms: p99,
        responsesPerConnection: mean(row.responses, row.responses_reported),
      };
    }),
    bins: CARRIED_COLUMNS.map((column) => rows.reduce((total, row) => total + Number(row[column]), 0)),
  };
}

/**
 * The range's connections by transport, the distribution of responses they carried, and
 * the most recently opened of them. `source` as the other views choose it: raw rows up to
 * RAW_RANGE_LIMIT_MS, rollups beyond.
 */
export async function connectionsView(db: Db, filter: DashboardFilter, recentLimit = 24, source: PercentileSource = percentileSource(filter)): Promise<ConnectionsView> {
  const [{ summary, bins }, recent] = await Promise.all([
    source === 'raw' ? fromRawRows(db, filter) : fromRollups(db, filter),
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
  return {
    summary,
    distribution: BINS.map((_, i) => ({ label: binLabel(i), connections: bins[i] })),
    recent: recent.map((row) => ({ ...row, lifetimeMs: row.closedAt ? row.closedAt.getTime() - row.openedAt.getTime() : null })),
  };
}
