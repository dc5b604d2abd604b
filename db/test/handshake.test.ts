import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { HANDSHAKE_MS, handshakeMsOf } from '../handshake';
import { writeBatch } from '../ingest';
import { queryRows } from '../rows';
import type { NewConnectionRow } from '../schema';
import { describeEachDatabase } from '../../test/support/databases';

function connection(id: string, phases: Partial<NewConnectionRow>): NewConnectionRow {
  return {
    traceId: id.padStart(32, '0'), spanId: id.padStart(16, '0'), connectionId: id, service: 's',
    openedAt: new Date(Date.UTC(2026, 10, 27, 12)), status: 'ok', ...phases,
  };
}

describeEachDatabase('HANDSHAKE_MS', (database) => {
  const connections = [
    connection('a1', { dnsMs: 2, tcpMs: 50, tlsMs: 100, upgradeMs: 50 }),
    // fetch over TLS reports one connect figure instead of phases.
    connection('b2', { connectMs: 117 }),
    connection('c3', { connectMs: 90, upgradeMs: 45 }),
    connection('d4', {}),
  ];

  test('adds the phases, falls back to the single connect figure, and adds the upgrade', async () => {
    await writeBatch(database().store, { responses: [], connections });
    const rows = await queryRows<{ connection_id: string; ms: number }>(
      database().store.db,
      sql`select connection_id, ${HANDSHAKE_MS}::float8 as ms from connections order by connection_id`,
    );
    assert.deepEqual(rows.map((r) => [r.connection_id, r.ms]), [['a1', 202], ['b2', 117], ['c3', 135], ['d4', 0]]);
    // The pages showing one connection compute it in JavaScript: the same figures.
    assert.deepEqual(connections.map((c) => [c.connectionId, handshakeMsOf(c)]), rows.map((r) => [r.connection_id, r.ms]));
  });
});
