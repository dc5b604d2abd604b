/*
 * Per-minute connection rollups (connection_rollups_1m, see the columns in db/schema.ts),
 * computed from the connection rows a batch actually inserted, so an exporter retry never
 * counts twice, and merged like the response rollups (db/ingest.ts): counters add,
 * lifetime histograms merge, whoever writes the minute.
 *
 * A connection adds to up to three kinds of minute: the one it opened in (everything the
 * Connections view shows, and use_opened_*), the one it closed in (use_closed_*), and the
 * first minute of every hour it was open at the start of (use_at_start_*), so that the
 * connections in use at any time are read from one hour of rows at most.
 */
import { addToHistogram } from './histogram';
import { handshakeMsOf } from './handshake';
import type { Column, RollupTier } from './ingest';
import type { HistogramBuckets, NewConnectionRow } from './schema';
import { HOUR_MS, hourStart, minuteStart } from './time-buckets';


/**
 * Upper bounds of the responses-per-connection bins; the last bin is open-ended. The
 * carried_* columns of the connection rollups are these bins, in order.
 */
export const RESPONSES_PER_CONNECTION_BOUNDS = [1, 2, 5, 20, 100] as const;
export const CARRIED_COLUMNS = ['carried_up_to_1', 'carried_2', 'carried_3_to_5', 'carried_6_to_20', 'carried_21_to_100', 'carried_over_100'] as const;

/** The bin of a connection that carried `responses` (as SQL's width_bucket over the bounds + 1). */
export function carriedBin(responses: number): number {
  return RESPONSES_PER_CONNECTION_BOUNDS.filter((bound) => responses > bound).length;
}

/**
 * A connection open longer than this stops counting as in use after it: each hour it spans
 * is a row to write, and a skewed clock must not make that millions.
 */
export const MAX_TRACKED_LIFETIME_MS = 31 * 24 * HOUR_MS;

const IN_USE_ROLES = ['opened', 'closed', 'at_start'] as const;
const inUseColumns = (role: (typeof IN_USE_ROLES)[number]) =>
  [`use_${role}`, `use_${role}_carrying`, `use_${role}_handshake_ms`, `use_${role}_responses`] as const;

/** Columns that add up across writers, minutes and hours. */
export const CONNECTION_SUMMED = [
  'connections',
  'dns_ms_sum', 'dns_count', 'tcp_ms_sum', 'tcp_count', 'tls_ms_sum', 'tls_count',
  'upgrade_ms_sum', 'upgrade_count', 'connect_ms_sum', 'connect_count',
  'responses', 'responses_reported',
  ...CARRIED_COLUMNS,
  ...IN_USE_ROLES.flatMap(inUseColumns),
] as const;
type Summed = (typeof CONNECTION_SUMMED)[number];

export interface ConnectionRollupAccumulator {
  bucket: number;
  service: string;
  /** '' when the span named no transport. */
  transport: string;
  sums: Record<Summed, number>;
  lifetimeHist: HistogramBuckets;
}

const PHASES = [
  ['dns', (row: NewConnectionRow) => row.dnsMs],
  ['tcp', (row: NewConnectionRow) => row.tcpMs],
  ['tls', (row: NewConnectionRow) => row.tlsMs],
  ['upgrade', (row: NewConnectionRow) => row.upgradeMs],
  ['connect', (row: NewConnectionRow) => row.connectMs],
] as const;

const zeroSums = () => Object.fromEntries(CONNECTION_SUMMED.map((column) => [column, 0])) as Record<Summed, number>;
const groupKey = (bucket: number, service: string, transport: string) => `${bucket}\u0000${service}\u0000${transport}`;

export function computeConnectionRollups(rows: readonly NewConnectionRow[]): ConnectionRollupAccumulator[] {
  const groups = new Map<string, ConnectionRollupAccumulator>();
  const at = (bucket: number, row: NewConnectionRow) => {
    const transport = row.transport ?? '';
    const key = groupKey(bucket, row.service, transport);
    let acc = groups.get(key);
    if (!acc) {
      acc = {
        bucket, service: row.service, transport,
        sums: zeroSums(),
        lifetimeHist: {},
      };
      groups.set(key, acc);
    }
    return acc;
  };
  for (const row of rows) {
    const opened = row.openedAt.getTime();
    const first = at(minuteStart(opened), row);
    const sums = first.sums;
    sums.connections += 1;
    for (const [phase, value] of PHASES) {
      const ms = value(row);
      if (ms == null) continue;
      sums[`${phase}_ms_sum`] += ms;
      sums[`${phase}_count`] += 1;
    }
    if (row.responses != null) {
      sums.responses += row.responses;
      sums.responses_reported += 1;
    }
    sums[CARRIED_COLUMNS[carriedBin(row.responses ?? 0)]] += 1;
    if (!row.closedAt) continue;
    // Only connections reported closed are followed in use here; those still open are
    // read from their raw rows (partial index), at any age.
    const closed = Math.max(opened, row.closedAt.getTime());
    addToHistogram(first.lifetimeHist, row.closedAt.getTime() - opened);
    const carrying = (row.responses ?? 0) > 0;
    const count = (acc: ConnectionRollupAccumulator, role: (typeof IN_USE_ROLES)[number]) => {
      const [n, carried, handshake, responses] = inUseColumns(role);
      acc.sums[n] += 1;
      if (!carrying) return;
      acc.sums[carried] += 1;
      acc.sums[handshake] += handshakeMsOf(row);
      acc.sums[responses] += row.responses ?? 0;
    };
    count(first, 'opened');
    // Open at an hour's start: opened before it, closed at or after it.
    const firstHour = hourStart(opened) + HOUR_MS;
    const lastHour = hourStart(closed);
    const followedUntil = opened + MAX_TRACKED_LIFETIME_MS;
    for (let hour = firstHour; hour <= lastHour && hour <= followedUntil; hour += HOUR_MS) count(at(hour, row), 'at_start');
    // Past the tracked lifetime the connection has already left the count at an hour's start.
    if (lastHour <= followedUntil) count(at(minuteStart(closed), row), 'closed');
  }
  return [...groups.values()];
}

/**
 * What the rollups gain when `added` rows are stored and `removed` ones deleted (an open
 * report replaced by the next or by the closing span): one row per key, as a merge may
 * touch each rollup row once.
 */
export function connectionRollupChange(added: readonly NewConnectionRow[], removed: readonly NewConnectionRow[]): ConnectionRollupAccumulator[] {
  if (removed.length === 0) return computeConnectionRollups(added);
  const change = new Map<string, ConnectionRollupAccumulator>();
  const apply = (rows: readonly NewConnectionRow[], sign: 1 | -1) => {
    for (const acc of computeConnectionRollups(rows)) {
      const key = groupKey(acc.bucket, acc.service, acc.transport);
      let target = change.get(key);
      if (!target) change.set(key, (target = { bucket: acc.bucket, service: acc.service, transport: acc.transport, sums: zeroSums(), lifetimeHist: {} }));
      for (const column of CONNECTION_SUMMED) target.sums[column] += sign * acc.sums[column];
      for (const [bucket, n] of Object.entries(acc.lifetimeHist)) target.lifetimeHist[bucket] = (target.lifetimeHist[bucket] ?? 0) + sign * n;
    }
  };
  apply(added, 1);
  apply(removed, -1);
  return [...change.values()];
}

const FLOAT_SUMS = new Set<string>(['dns_ms_sum', 'tcp_ms_sum', 'tls_ms_sum', 'upgrade_ms_sum', 'connect_ms_sum',
  ...IN_USE_ROLES.map((role) => `use_${role}_handshake_ms`)]);

const CONNECTION_ROLLUP_COLUMNS: Column<ConnectionRollupAccumulator>[] = [
  { name: 'bucket', type: 'float8', cast: 'timestamptz', value: (r) => r.bucket },
  { name: 'service', type: 'text', value: (r) => r.service },
  { name: 'transport', type: 'text', value: (r) => r.transport },
  ...CONNECTION_SUMMED.map((name): Column<ConnectionRollupAccumulator> => ({
    name, type: FLOAT_SUMS.has(name) ? 'float8' : 'int8', value: (r) => r.sums[name],
  })),
  { name: 'lifetime_hist', type: 'text', cast: 'jsonb', value: (r) => JSON.stringify(r.lifetimeHist) },
];

export const CONNECTION_ROLLUPS: RollupTier<ConnectionRollupAccumulator> = {
  minutes: 'connection_rollups_1m',
  hours: 'connection_rollups_1h',
  keys: ['service', 'transport'],
  columns: CONNECTION_ROLLUP_COLUMNS,
  summed: CONNECTION_SUMMED,
  maxed: [],
  merged: ['lifetime_hist'],
  order: (a, b) => a.bucket - b.bucket || a.service.localeCompare(b.service) || a.transport.localeCompare(b.transport),
};
