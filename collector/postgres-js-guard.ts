/*
 * A workaround for a crash in postgres.js 3.4.9 (porsager/postgres#1208, #1154; fixes
 * proposed in #1168/#1209, unreleased): when the backend of a reserved connection dies —
 * a transaction's, every write's here — the driver's ROLLBACK is scheduled with
 * setImmediate onto a socket it has already set to null, and the TypeError escapes as an
 * uncaught exception that takes the whole collector down. Terminating backends (a
 * failover, pg_terminate_backend, a restart) does exactly that under load.
 *
 * The query it belonged to has already been rejected with CONNECTION_CLOSED, so dropping
 * the error loses nothing; the write queue's timeout covers a transaction left waiting on
 * the lost ROLLBACK. Every other uncaught exception keeps Node's behaviour: it goes to the
 * process's listeners, or is printed and exits with code 1. Remove this once postgres.js
 * guards nextWrite.
 */

let installed = false;
let swallowed = 0;

/** The driver's nextWrite on a null socket, and nothing else. */
function isNullSocketWrite(error: unknown): boolean {
  if (!(error instanceof TypeError) || !/reading 'write'/.test(error.message)) return false;
  const [, top = ''] = (error.stack ?? '').split('\n', 2);
  return /\bnextWrite\b/.test(top) && /[\\/]postgres[\\/]src[\\/]connection\.js/.test(top);
}

/** Installs the guard once per process, unless something else already captures uncaught exceptions. */
export function guardPostgresJsNullSocketWrite(): void {
  if (installed || process.hasUncaughtExceptionCaptureCallback()) return;
  installed = true;
  process.setUncaughtExceptionCaptureCallback((error) => {
    if (isNullSocketWrite(error)) {
      swallowed += 1;
      if (swallowed === 1) console.error('streamscope collector: ignored postgres.js write to a closed connection (porsager/postgres#1208)');
      return;
    }
    if (process.listenerCount('uncaughtException') > 0) {
      process.emit('uncaughtException', error as Error);
      return;
    }
    console.error(error);
    process.exit(1);
  });
}
