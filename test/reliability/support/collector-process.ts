/*
 * The collector as an operator runs it — `streamscope collector`, a process of its own —
 * for tests and benchmarks that kill it or watch its memory, on either database: a
 * Postgres database of its own, or a PGlite data directory on disk (what `npm start`
 * uses when DATABASE_URL is unset).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase, type DatabaseKind } from '../../support/databases';
import { openMigratedPglite } from '../../support/pglite-template';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** Where a collector process keeps its rows. */
export type CollectorDatabase = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };

/** A fresh database of `kind`; `drop` removes it. */
export async function createCollectorDatabase(kind: DatabaseKind): Promise<CollectorDatabase & { drop(): Promise<void> }> {
  if (kind === 'postgres') {
    const database = await createPostgresDatabase();
    return { kind, url: database.url, drop: () => database.drop() };
  }
  const parent = await mkdtemp(path.join(os.tmpdir(), 'streamscope-pglite-'));
  const dataDir = path.join(parent, 'pglite');
  // Made and migrated here, from the suite's dump, rather than by initdb in the collector.
  await (await openMigratedPglite(dataDir)).close();
  return { kind, dataDir, drop: () => rm(parent, { recursive: true, force: true }) };
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `streamscope collector` on `database` and `port`; resolves once it listens. */
export async function startCollectorProcess(database: CollectorDatabase, port: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  // An empty DATABASE_URL selects PGlite (see db/client.ts), whatever the caller's environment says.
  const databaseEnv = database.kind === 'postgres'
    ? { DATABASE_URL: database.url }
    : { DATABASE_URL: '', STREAMSCOPE_DATA_DIR: database.dataDir };
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/streamscope.ts', 'collector'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, ...databaseEnv, STREAMSCOPE_OTLP_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      if (output.includes('/v1/traces')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`collector exited (${code}) before listening:\n${output}`)));
  });
  return child;
}

export interface CollectorProcesses {
  /** The file's own database, valid inside its tests. */
  readonly database: CollectorDatabase;
  /** Starts `streamscope collector` on that database and `port`; resolves once it listens. */
  start(port: number, env?: Record<string, string>): Promise<ChildProcess>;
}

/** A database of `kind` for the test file, and collector processes on it, all gone after its last test. */
export function useCollectorProcesses(kind: DatabaseKind = 'postgres'): CollectorProcesses {
  let database: Awaited<ReturnType<typeof createCollectorDatabase>> | undefined;
  const running = new Set<ChildProcess>();
  before(async () => {
    database = await createCollectorDatabase(kind);
  });
  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await database?.drop();
  });
  const current = () => {
    if (!database) throw new Error('the database is created in before(); use it inside a test');
    return database;
  };
  return {
    get database() {
      return current();
    },
    async start(port, env) {
      const child = await startCollectorProcess(current(), port, env);
      running.add(child);
      child.once('exit', () => running.delete(child));
      return child;
    },
  };
}
