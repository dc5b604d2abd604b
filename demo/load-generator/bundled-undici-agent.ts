import type { Agent } from 'undici-types';

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * Returns the `Agent` class of the undici that Node bundles for global `fetch`.
 *
 * Node does not export it and the `undici` package is not a dependency; a separately installed
 * undici would also be a second copy whose connections the `fetch` instrumentation (listening
 * on the bundled copy's diagnostics channels) might not see. The bundled copy registers its
 * global dispatcher, an `Agent`, under a well-known symbol the first time `fetch` loads, so a
 * `data:` URL fetch — no network involved — is enough to reach it.
 */
export async function bundledUndiciAgent(): Promise<typeof Agent> {
  await fetch('data:,');
  const dispatcher = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
  const constructor = (dispatcher as { constructor?: unknown } | undefined)?.constructor;
  if (typeof constructor !== 'function' || constructor.name !== 'Agent') {
    throw new Error('The global fetch dispatcher is not an undici Agent; cannot create per-run connection pools.');
  }
  return constructor as typeof Agent;
}
