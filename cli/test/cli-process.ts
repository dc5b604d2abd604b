/*
 * `streamscope <command>` run as a user runs it from a fresh clone: a child process on a
 * clean state and PGlite directory, free ports and a generated admin password, with its
 * output collected for the assertions and for the message when something times out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../process';

export interface CliProcess {
  readonly child: ChildProcess;
  /** The state directory; PGlite's data is in its `pglite` folder. */
  readonly stateDir: string;
  readonly pgliteDir: string;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with `probe`'s first defined value, polling; fails if the process exits or `timeoutMs` passes. */
  until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T>;
  /** SIGINT (Ctrl-C), then the exit code. */
  interrupt(): Promise<number | null>;
  /** Kills the process if it still runs and removes the state directory. */
  cleanUp(): Promise<void>;
}

export async function startCli(command: 'start' | 'demo'): Promise<CliProcess> {
  const stateDir = await mkdtemp(path.join(tmpdir(), `streamscope-${command}-`));
  const pgliteDir = path.join(stateDir, 'pglite');
  const env = {
    ...process.env,
    DATABASE_URL: '',
    STREAMSCOPE_ADMIN_PASSWORD: '',
    STREAMSCOPE_STATE_DIR: stateDir,
    STREAMSCOPE_DATA_DIR: pgliteDir,
    STREAMSCOPE_PORT: '0',
    STREAMSCOPE_OTLP_PORT: '0',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bin/streamscope.ts'), command], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));

  return {
    child,
    stateDir,
    pgliteDir,
    output: () => output,
    async until(what, timeoutMs, probe) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode} before ${what}:\n${output}`);
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    interrupt() {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      return exited;
    },
    async cleanUp() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
