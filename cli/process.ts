import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Runs a command with inherited output (so its progress shows); rejects with `hint` on failure. */
export function runStep(command: string, args: string[], hint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Next.js telemetry would phone home on every build; Streamscope sends nothing anywhere.
    const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
    const child = spawn(command, args, { cwd: repoRoot, stdio: 'inherit', env });
    child.once('error', (error) => reject(new Error(`${hint} (${error.message})`)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(hint))));
  });
}

/** Calls `stop` once on SIGINT/SIGTERM, then exits; a second Ctrl-C exits at once. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`\n• ${signal}: stopping…`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('error while stopping:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${raw} is not a port/number; unset it or give a whole number`);
  return value;
}
