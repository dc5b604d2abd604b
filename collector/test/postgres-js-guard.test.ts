/*
 * The postgres.js null-socket guard drops exactly that driver error and nothing else: run
 * in a process of its own, since it takes over the process's uncaught exceptions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const guard = fileURLToPath(new URL('../postgres-js-guard.ts', import.meta.url));

/** Installs the guard, throws `error` from a setImmediate as the driver does, and reports how the process ended. */
function throwUnderGuard(errorSource: string) {
  const script = `
    import { guardPostgresJsNullSocketWrite } from ${JSON.stringify(guard)};
    guardPostgresJsNullSocketWrite();
    const error = ${errorSource};
    setImmediate(() => { throw error; });
    setTimeout(() => console.log('still running'), 50);`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
}

const driverError = `Object.assign(new TypeError("Cannot read properties of null (reading 'write')"), {
  stack: "TypeError: Cannot read properties of null (reading 'write')\\n    at Immediate.nextWrite (file:///app/node_modules/postgres/src/connection.js:255:22)\\n    at process.processImmediate (node:internal/timers:483:21)",
})`;

test("postgres.js's write to a closed connection is dropped and the process goes on", () => {
  const run = throwUnderGuard(driverError);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /still running/);
  assert.match(run.stderr, /porsager\/postgres#1208/);
});

test('any other uncaught exception still ends the process with code 1 and its stack', () => {
  const run = throwUnderGuard(`new TypeError("Cannot read properties of null (reading 'write')")`);
  assert.equal(run.status, 1);
  assert.doesNotMatch(run.stdout, /still running/);
  assert.match(run.stderr, /TypeError: Cannot read properties of null/);
});
