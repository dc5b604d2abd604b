/*
 * The collector as an operator runs it — `streamscope collector`, a process of its own —
 * for tests that kill it or watch its memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createPostgresDatabase } from '../../support/databases';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `streamscope collector` on `databaseUrl` and `port`; resolves once it listens. */
async function startCollectorProcess(databaseUrl: string, port: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/streamscope.ts', 'collector'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, DATABASE_URL: databaseUrl, STREAMSCOPE_OTLP_PORT: String(port) },
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
  /** The file's own Postgres database, valid inside its tests. */
  readonly databaseUrl: string;
  /** Starts `streamscope collector` on that database and `port`; resolves once it listens. */
  start(port: number, env?: Record<string, string>): Promise<ChildProcess>;
}

/** A Postgres database for the test file, and collector processes on it, all gone after its last test. */
export function useCollectorProcesses(): CollectorProcesses {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  const running = new Set<ChildProcess>();
  before(async () => {
    database = await createPostgresDatabase();
  });
  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await database?.drop();
  });
  const url = () => {
    if (!database) throw new Error('the database is created in before(); use it inside a test');
    return database.url;
  };
  return {
    get databaseUrl() {
      return url();
    },
    async start(port, env) {
      const child = await startCollectorProcess(url(), port, env);
      running.add(child);
      child.once('exit', () => running.delete(child));
      return child;
    },
  };
}
