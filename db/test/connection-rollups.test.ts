import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { openStore, type Store } from '../client';
import { CONNECTION_SUMMED, MAX_TRACKED_LIFETIME_MS } from '../connection-rollups';
import { rollUpHours } from '../hourly-rollups';
import { HOUR_MS, MINUTE_MS } from '../time-buckets';
import { writeBatch } from '../ingest';
import { MIGRATIONS_FOLDER } from '../migrate';
import { applyRetention } from '../retention';
import { queryRows } from '../rows';
import type { NewConnectionRow } from '../schema';
import { describeEachDatabase } from '../../test/support/databases';

const START = Date.UTC(2026, 10, 20, 9, 40);
/** Long after the seeded hours: every one of them is complete. */
const LATER = new Date(START + 40 * 24 * HOUR_MS);

/**
 * Connections of every kind the rollups tell apart: phases reported or not, a single
 * connect figure, responses none, unreported or many, lifetimes from seconds to hours
 * (several hour starts crossed), still open, closed before opened (a skewed clock), and
 * one open longer than the rollups follow.
 */
function connectionsOf(writer: number, count: number, from = START): NewConnectionRow[] {
  return Array.from({ length: count }, (_, i) => {
    const n = writer * 10_000 + i;
    const openedAt = from + ((n * 7_919) % (5 * HOUR_MS));
    const lifetime = i % 17 === 0 ? null : i % 23 === 0 ? -5_000 : i === 5 ? MAX_TRACKED_LIFETIME_MS + 3 * HOUR_MS : ((n * 104_729) % (4 * HOUR_MS)) + 1_500;
    return {
      traceId: n.toString(16).padStart(32, '0'),
      spanId: n.toString(16).padStart(16, '0'),
      connectionId: `conn-${n}`,
      service: ['chat-api', 'search'][i % 2],
      transport: [null, 'websocket', 'sse', 'http'][i % 4],
      openedAt: new Date(openedAt),
      closedAt: lifetime === null ? null : new Date(openedAt + lifetime),
      dnsMs: i % 3 === 0 ? null : 1 + (i % 5) * 0.25,
      tcpMs: i % 3 === 0 ? null : 10 + (i % 7),
      tlsMs: i % 6 === 0 ? null : 20.5 + (i % 11),
      connectMs: i % 3 === 0 ? 42 + (i % 4) : null,
      upgradeMs: i % 4 === 1 ? 15 + (i % 3) : null,
      responses: i % 13 === 0 ? null : i % 9 === 0 ? 0 : (n * 31) % 150,
      status: 'ok',
    };
  });
}

type Row = Record<string, unknown>;

/** A tier's rows, keyed by bucket, service and transport; sums rounded (float sums depend on their order), histograms as objects. */
async function rowsOf(store: Store, table: string): Promise<Map<string, Row>> {
  const rows = await queryRows<Row>(store.db, sql`select (extract(epoch from bucket) * 1000)::float8 as bucket, service, transport,
    ${sql.raw(CONNECTION_SUMMED.map((c) => `${c}::float8 as ${c}`).join(', '))}, lifetime_hist::text as lifetime_hist
    from ${sql.identifier(table)}`);
  return new Map(rows.map((row) => [
    `${Number(row.bucket)} ${row.service} ${row.transport}`,
    {
      ...Object.fromEntries(CONNECTION_SUMMED.map((c) => [c, Math.round(Number(row[c]) * 1e6) / 1e6])),
      lifetimeHist: JSON.parse(String(row.lifetime_hist)) as Row,
    },
  ]));
}

/** The rollups the upgrade migration computes in SQL from the raw rows kept. */
async function backfill(store: Store): Promise<void> {
  const migration = readFileSync(join(MIGRATIONS_FOLDER, '0010_connection_rollup_backfill.sql'), 'utf8');
  // One transaction, so one connection: the migration's temporary table lives in its session.
  await store.db.transaction(async (tx) => {
    await tx.execute(sql`delete from connection_rollups_1m`);
    await tx.execute(sql`delete from connection_rollups_1h`);
    for (const statement of migration.split('--> statement-breakpoint')) await tx.execute(sql.raw(statement));
  });
}

/** The minutes merged by hour, keyed like the hourly rows. */
function mergedByHour(minutes: Map<string, Row>): Map<string, Row> {
  const hours = new Map<string, Row>();
  for (const [key, row] of minutes) {
    const [bucket, ...rest] = key.split(' ');
    const hourKey = [Math.floor(Number(bucket) / HOUR_MS) * HOUR_MS, ...rest].join(' ');
    const hour = hours.get(hourKey) ?? { ...Object.fromEntries(CONNECTION_SUMMED.map((c) => [c, 0])), lifetimeHist: {} };
    for (const c of CONNECTION_SUMMED) hour[c] = Math.round(((hour[c] as number) + (row[c] as number)) * 1e6) / 1e6;
    const hist = hour.lifetimeHist as Record<string, number>;
    for (const [k, n] of Object.entries(row.lifetimeHist as Record<string, number>)) hist[k] = (hist[k] ?? 0) + n;
    hours.set(hourKey, hour);
  }
  return hours;
}

const sortedEntries = (rows: Map<string, Row>) => [...rows].sort(([a], [b]) => a.localeCompare(b));

describeEachDatabase('connection rollups', (database) => {
  test('two writers at once, with retries crossing over and a late batch, give the rollups the raw rows make', async () => {
    const { store, databaseUrl, kind } = database();
    // On Postgres a second store is a second collector; PGlite has one connection, so the batches queue.
    const other = kind === 'postgres' ? await openStore({ databaseUrl, maxConnections: 4 }) : store;
    try {
      const batches = (writer: number) => Array.from({ length: 6 }, (_, b) => connectionsOf(writer, 240).slice(b * 40, b * 40 + 40));
      const [mine, theirs] = [batches(1), batches(2)];
      await Promise.all([
        ...mine.map((connections) => writeBatch(store, { responses: [], connections })),
        ...theirs.map((connections) => writeBatch(other, { responses: [], connections })),
        ...theirs.slice(0, 2).map((connections) => writeBatch(store, { responses: [], connections })),
        ...mine.slice(0, 2).map((connections) => writeBatch(other, { responses: [], connections })),
      ]);
    } finally {
      if (other !== store) await other.close();
    }
    // Reported late, into minutes and hours already written.
    await writeBatch(store, { responses: [], connections: connectionsOf(3, 60, START + 30 * MINUTE_MS) });

    const written = await rowsOf(store, 'connection_rollups_1m');
    const [{ n }] = await queryRows<{ n: number }>(store.db, sql`select sum(connections)::int as n from connection_rollups_1m`);
    assert.equal(n, 540, 'every connection counted once');
    assert.ok(written.size > 100);
    await backfill(store);
    assert.deepEqual(sortedEntries(await rowsOf(store, 'connection_rollups_1m')), sortedEntries(written));
  });

  test('each hour is the merge of its minutes, a late batch included', async () => {
    const { store } = database();
    await writeBatch(store, { responses: [], connections: connectionsOf(4, 200, START + 2 * 24 * HOUR_MS) });
    await rollUpHours(store, { now: LATER });
    // Late connections of an hour already rolled: the next run recomputes it.
    await writeBatch(store, { responses: [], connections: connectionsOf(5, 30, START + 2 * 24 * HOUR_MS + 10 * MINUTE_MS) });
    const { hours } = await rollUpHours(store, { now: LATER });
    assert.ok(hours.includes(Math.floor((START + 2 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS + HOUR_MS));
    const minutes = await rowsOf(store, 'connection_rollups_1m');
    assert.deepEqual(sortedEntries(await rowsOf(store, 'connection_rollups_1h')), sortedEntries(mergedByHour(minutes)));
    const [{ n }] = await queryRows<{ n: number }>(store.db, sql`select sum(connections)::int as n from connection_rollups_1h`);
    assert.ok(n >= 230);
  });

  test('retention deletes connection rollups past the rollup cutoff', async () => {
    const { store } = database();
    const now = new Date(START + 3 * 24 * HOUR_MS);
    const before = await queryRows<{ n: number }>(store.db, sql`select count(*)::int as n from connection_rollups_1m where bucket < ${new Date(now.getTime() - 24 * HOUR_MS).toISOString()}::timestamptz`);
    assert.ok(before[0].n > 0);
    const result = await applyRetention(store, { rawDays: 400, rollupDays: 1, now });
    assert.ok(result.rollupRowsDeleted >= before[0].n);
    for (const table of ['connection_rollups_1m', 'connection_rollups_1h']) {
      const [{ oldest }] = await queryRows<{ oldest: number }>(store.db, sql`select (extract(epoch from min(bucket)) * 1000)::float8 as oldest from ${sql.identifier(table)}`);
      assert.ok(Number(oldest) >= now.getTime() - 24 * HOUR_MS, table);
    }
  });
});
