/*
 * `streamscope demo`: `start`, plus live traffic in the same process — the mock model server
 * over TLS behind a delay proxy, and instrumented WebSocket and SSE users exporting to the
 * collector — so the dashboard fills within seconds and the Compare view has both sides.
 */
import { TRACES_PATH } from '../collector/index';
import type { Db } from '../db/client';
import { compareTransports } from '../db/queries/compare';
import { parseOptions } from '../demo/cli-options';
import { SSE_NEW_CONNECTION_LANE, WEBSOCKET_LANE, startTraffic } from '../demo/demo-traffic';
import { startProgress } from '../demo/load-generator/progress-line';
import { onShutdown } from './process';
import { createApiKey, revokeApiKey } from '../lib/api-keys/index';
import { openMigratedStore, printCollectorUrl, printLogin, startStreamscope } from './start';

const USAGE = `usage: streamscope demo [--rtt <ms>] [--rate <responses/s>] [--users <n>]

  --rtt    round trip the delay proxy adds in front of the mock model server (default 40)
  --rate   responses started per second, shared by the two transports (default 20)
  --users  virtual users per transport, each with one response in flight at most (default 16)`;

export const DEMO_SERVICE = 'demo-chat';
const LANES = [WEBSOCKET_LANE, SSE_NEW_CONNECTION_LANE];
const PROGRESS_INTERVAL_MS = 2000;
/** The live line covers a window that ends this long ago: spans of newer responses are still on their way. */
const INGEST_LAG_MS = 2000;
const LIVE_WINDOW_MS = 10_000;

/** What the Compare view would show for the last few seconds, read back from the store. */
async function liveFigures(db: Db): Promise<string> {
  const to = new Date(Date.now() - INGEST_LAG_MS);
  const comparison = await compareTransports(db, { from: new Date(to.getTime() - LIVE_WINDOW_MS), to, service: DEMO_SERVICE }, 'raw');
  const columns = comparison.models.flatMap((model) => model.transports);
  if (columns.length === 0) return 'no responses stored yet';
  const ms = (value: number | null) => (value === null ? '–' : `${value.toFixed(0)} ms`);
  const parts = columns.map(({ transport, values }) => {
    const handshake = values.connectionOverheadMs === null ? '' : `, handshake/response ${ms(values.connectionOverheadMs)}`;
    return `${transport} ${values.responsesPerSecond?.toFixed(1)} resp/s, TTFT p50 ${ms(values.ttftP50)}${handshake}`;
  });
  return `stored, last ${LIVE_WINDOW_MS / 1000} s: ${parts.join(' | ')}`;
}

/** A progress line refreshed from the store; resolves its stop once no query is in flight. */
function startLiveProgress(db: Db): () => Promise<void> {
  const startedAt = Date.now();
  let latest = 'waiting for the first spans…';
  let pending: Promise<void> | null = null;
  const stopLine = startProgress(() => {
    pending ??= liveFigures(db)
      .then(
        (line) => void (latest = line),
        (error: unknown) => void (latest = `could not read the store: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => (pending = null));
    return `[${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${latest}`;
  }, PROGRESS_INTERVAL_MS);
  return async () => {
    stopLine();
    await pending;
  };
}

export async function demoCommand(args: string[]): Promise<void> {
  const { numbers } = parseOptions(
    args,
    { numbers: { rtt: { default: 40, min: 0 }, rate: { default: 20, min: 0.1 }, users: { default: 16, min: 1, integer: true } } },
    USAGE,
  );
  // The demo ingests as an application should: with its own API key, made before the
  // collector starts so that the collector's key cache holds it from the first export.
  const demoKey = await createApiKey(await openMigratedStore(), `demo ${new Date().toISOString()}`);
  const running = await startStreamscope();
  const traffic = await startTraffic({
    tracesUrl: `${running.collectorUrl}${TRACES_PATH}`,
    apiKey: demoKey.key,
    serviceName: DEMO_SERVICE,
    rttMs: numbers.rtt,
  }).catch(async (error: unknown) => {
    await running.stop();
    throw error;
  });
  printCollectorUrl(running.collectorUrl);
  printLogin(running);
  console.log(
    `• ingest API key "${demoKey.info.name}" (${demoKey.info.prefix}…) sends the demo's spans; it is revoked at exit. ` +
      'With keys in use the collector requires one from every sender: `npm run keys -- create <name>`',
  );
  console.log(
    `• demo traffic (service ${DEMO_SERVICE}): ${numbers.rate} responses/s from ${numbers.users} users per transport, ` +
      `${numbers.rtt} ms RTT to a TLS mock model server — WebSocket: one persistent socket per user; SSE: a new connection per response`,
  );
  console.log('• Ctrl-C to stop');

  const load = new AbortController();
  const finished = traffic
    .run(LANES, { virtualUsers: numbers.users, ratePerLane: numbers.rate / LANES.length, durationMs: Infinity, signal: load.signal })
    .catch((error: unknown) => console.error(`demo traffic stopped: ${error instanceof Error ? error.message : String(error)}`));
  const stopProgress = startLiveProgress(running.store.db);

  onShutdown(async () => {
    load.abort();
    await finished;
    await stopProgress();
    // Before the collector stops: the last spans (and the WebSocket connections', which end only now) still land.
    await traffic.close();
    await revokeApiKey(running.store, String(demoKey.info.id));
    await running.stop();
  });
}
