/*
 * `streamscope demo` as a user runs it on a clean data directory: responses from both
 * transports reach the store while it runs, and Ctrl-C stops everything and releases the
 * directory. Needs `next build` first (the test script runs it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { HEALTH_PATH, type CollectorStats } from '../../collector/index';
import { openStore } from '../../db/client';
import { queryRows } from '../../db/rows';
import { repoRoot } from '../process';

let child: ChildProcess;
let stateDir: string;
let output = '';

before(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'streamscope-demo-'));
  // A clean data directory, free ports and a generated password: what a fresh clone gets.
  const clean = { DATABASE_URL: '', STREAMSCOPE_ADMIN_PASSWORD: '', STREAMSCOPE_STATE_DIR: stateDir, STREAMSCOPE_DATA_DIR: path.join(stateDir, 'pglite') };
  const env = { ...process.env, ...clean, STREAMSCOPE_PORT: '0', STREAMSCOPE_OTLP_PORT: '0' };
  child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bin/streamscope.ts'), 'demo'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
});

after(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await rm(stateDir, { recursive: true, force: true });
});

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`demo exited with ${child.exitCode} before ${what}:\n${output}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('demo fills the store with both transports from a clean data directory and stops on SIGINT', async () => {
  // Starting Next.js and migrating PGlite comes first; on a busy machine that alone takes a while.
  // The collector, login and API key lines come in that order, each its own write to the pipe.
  await until('the API key line', 90_000, async () => output.match(/ingest API key "demo [^"]+" \(ssk_\S*…\)/)?.[0]);
  const collectorUrl = output.match(/OTLP\/HTTP collector: (\S+)\/v1\/traces/)?.[1];
  assert.ok(collectorUrl, output);
  assert.match(output, /login: admin \/ \S+/);
  const stats = await until('stored responses and connections', 20_000, async () => {
    const health = (await (await fetch(`${collectorUrl}${HEALTH_PATH}`)).json()) as { stats: CollectorStats };
    // SSE opens a connection per response, so connections land while the demo runs.
    return health.stats.responsesInserted >= 20 && health.stats.connectionsInserted > 0 ? health.stats : undefined;
  });
  assert.equal(stats.spansRejected, 0);

  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, output);

  // PGlite is single-opener: readable only because the demo released the directory.
  const store = await openStore({ dataDir: path.join(stateDir, 'pglite') });
  try {
    const rows = await queryRows<{ transport: string; responses: number; connections: number }>(
      store.db,
      sql`select r.transport, count(*)::int as responses,
                 (select count(*)::int from connections c where c.transport = r.transport) as connections
          from responses r where r.service = 'demo-chat' group by r.transport order by r.transport`,
    );
    assert.deepEqual(rows.map((r) => r.transport), ['sse', 'websocket']);
    // The spans came in with the demo's own key, which the demo revoked on the way out.
    const keys = await queryRows<{ revoked: boolean; used: boolean }>(
      store.db,
      sql`select revoked_at is not null as revoked, last_used_at is not null as used from api_keys`,
    );
    assert.deepEqual(keys, [{ revoked: true, used: true }]);
    for (const row of rows) {
      assert.ok(row.responses > 0, `${row.transport}: responses`);
      // WebSocket connection spans end when the sockets close: on SIGINT, before the collector stops.
      assert.ok(row.connections > 0, `${row.transport}: connections`);
    }
  } finally {
    await store.close();
  }
});
