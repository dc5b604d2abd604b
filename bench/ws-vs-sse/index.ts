/*
 * WebSocket against HTTP/SSE, side by side: instrumented users stream responses from the TLS
 * mock model server through the delay proxy, the spans go through a collector into a fresh
 * store, and the figures are read back with the query behind the dashboard's Compare view —
 * the numbers printed here are the numbers the dashboard shows for the same window.
 *
 *   npx tsx bench/ws-vs-sse/index.ts --rtt 50 --concurrency 20 --seconds 20
 *
 * Prints a table, then one final JSON line with the figures and the workload.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { TRACES_PATH, startCollector, type Collector } from '../../collector/index';
import { openStore, storeOptionsFromEnv, type Store } from '../../db/client';
import { migrateStore } from '../../db/migrate';
import { COMPARED_METRICS, compareTransports, percentDifference, type ComparedMetric, type Comparison } from '../../db/queries/compare';
import { parseOptions } from '../../demo/cli-options';
import { SSE_KEEP_ALIVE_LANE, SSE_NEW_CONNECTION_LANE, WEBSOCKET_LANE, startTraffic, type LoadLane } from '../../demo/demo-traffic';
import type { LoadSummary, TransportSummary } from '../../demo/load-generator/run-load';
import { DEFAULT_SCHEDULE_CONFIG } from '../../demo/mock-server/schedule';

export const USAGE = `usage: streamscope bench [--rtt <ms>] [--concurrency <n>] [--seconds <s>] [--warmup <s>] [--keep-alive] [--keep] [--smoke]

  --rtt          round trip the delay proxy adds (default 50)
  --concurrency  users per transport, each sending its next request when the last one ends (default 20)
  --seconds      measured time (default 20), after --warmup seconds (default 3) left out of the figures
  --keep-alive   a third lane: SSE over a shared keep-alive pool (model ${SSE_KEEP_ALIVE_LANE.model})
  --keep         keep the benchmark's data directory, to open it in the dashboard
  --smoke        a short run (4 users, 3 s) for tests
Data goes to a temporary PGlite directory, or to DATABASE_URL when it is set.`;

export interface BenchOptions {
  rttMs: number;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  keepAlive: boolean;
  keep: boolean;
}

const SMOKE = { concurrency: 4, seconds: 3, warmupSeconds: 1 };

export function parseBenchArgs(args: readonly string[]): BenchOptions {
  const { numbers, flags } = parseOptions(
    args,
    {
      numbers: {
        rtt: { default: 50, min: 0 },
        concurrency: { default: 20, min: 1, integer: true },
        seconds: { default: 20, min: 1 },
        warmup: { default: 3, min: 0 },
      },
      flags: ['keep-alive', 'keep', 'smoke'],
    },
    USAGE,
  );
  const options = {
    rttMs: numbers.rtt,
    concurrency: numbers.concurrency,
    seconds: numbers.seconds,
    warmupSeconds: numbers.warmup,
    keepAlive: flags['keep-alive'],
    keep: flags.keep,
  };
  return flags.smoke ? { ...options, ...SMOKE } : options;
}

export const BENCH_SERVICE = 'bench-ws-vs-sse';
/**
 * Far above what any lane can start, so the pacer always has a slot ready: each user sends its
 * next request as soon as the last one ended, and responses/s measures what a transport sustains.
 */
const CLOSED_LOOP_RATE = 1_000_000;

/** The figures per lane, as the Compare view computes them from the stored spans. */
const STORED: readonly { key: ComparedMetric; name: string }[] = [
  { key: 'ttftP50', name: 'ttftP50Ms' },
  { key: 'ttftP99', name: 'ttftP99Ms' },
  { key: 'durationP50', name: 'endToEndP50Ms' },
  { key: 'durationP99', name: 'endToEndP99Ms' },
  { key: 'responsesPerSecond', name: 'responsesPerSecond' },
  { key: 'bytesPerResponse', name: 'bytesPerResponse' },
  { key: 'connectionOverheadMs', name: 'handshakeMsPerResponse' },
  { key: 'responsesPerConnection', name: 'responsesPerConnection' },
  { key: 'errorRate', name: 'errorRate' },
];

/**
 * What the load generator saw, counted from the decision to send: unlike a span, which starts
 * when the request leaves, this includes opening a connection first — the latency a user feels.
 */
const CLIENT: readonly { name: string; label: string; of: (lane: TransportSummary) => number | null }[] = [
  { name: 'clientTtftP50Ms', label: 'client TTFT p50, incl. connecting (ms)', of: (lane) => lane.ttftMs.p50 },
  { name: 'clientTtftP99Ms', label: 'client TTFT p99, incl. connecting (ms)', of: (lane) => lane.ttftMs.p99 },
  { name: 'clientEndToEndP50Ms', label: 'client end-to-end p50 (ms)', of: (lane) => lane.endToEndMs.p50 },
  { name: 'clientEndToEndP99Ms', label: 'client end-to-end p99 (ms)', of: (lane) => lane.endToEndMs.p99 },
  { name: 'clientErrors', label: 'client errors', of: (lane) => lane.errors },
];

const ROWS: readonly { name: string; label: string }[] = [
  ...STORED.map(({ key, name }) => {
    const { label, unit } = COMPARED_METRICS.find((m) => m.key === key)!;
    return { name, label: unit === 'ratio' || unit === 'responses/s' ? label : `${label} (${unit})` };
  }),
  ...CLIENT,
];

type Figures = Record<string, number | null>;

const round = (value: number | null, digits = 1) => (value === null ? null : Number(value.toFixed(digits)));

function laneFigures(comparison: Comparison, lane: LoadLane, summary: LoadSummary | undefined): Figures & { responses: number } {
  const column = comparison.models.find((m) => m.model === lane.model)?.transports.find((t) => t.transport === lane.transport);
  const client = summary?.transports[lane.transport];
  if (!column || !client) {
    throw new Error(`no ${lane.label} responses reached the store: check the client errors above, and that nothing else holds the data directory`);
  }
  return {
    responses: column.responses,
    ...Object.fromEntries(STORED.map(({ key, name }) => [name, round(column.values[key], key === 'errorRate' ? 4 : 1)])),
    ...Object.fromEntries(CLIENT.map(({ name, of }) => [name, round(of(client))])),
  };
}

function differences(candidate: Figures, baseline: Figures): Figures {
  return Object.fromEntries(ROWS.map(({ name }) => [name, round(percentDifference(candidate[name], baseline[name]))]));
}

function printTable(lanes: readonly LoadLane[], figures: Record<string, Figures>, diffs: Record<string, Figures>): void {
  const percent = (value: number | null) => (value === null ? '–' : `${value > 0 ? '+' : ''}${value.toFixed(1)} %`);
  const header = ['', ...lanes.map((l) => l.label), ...Object.keys(diffs).map((d) => `Δ ${d}`)];
  const rows = ROWS.map(({ name, label }) => [label, ...lanes.map((l) => String(figures[l.label][name] ?? '–')), ...Object.values(diffs).map((d) => percent(d[name]))]);
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((row) => row[c].length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}

async function openBenchStore(): Promise<{ store: Store; dataDir: string | null }> {
  const fromEnv = storeOptionsFromEnv();
  if (fromEnv.databaseUrl) return { store: await openStore(fromEnv), dataDir: null };
  const dataDir = path.join(await mkdtemp(path.join(os.tmpdir(), 'streamscope-bench-')), 'pglite');
  return { store: await openStore({ dataDir }), dataDir };
}

export async function runWsVsSseBench(options: BenchOptions): Promise<void> {
  const lanes = options.keepAlive ? [WEBSOCKET_LANE, SSE_NEW_CONNECTION_LANE, SSE_KEEP_ALIVE_LANE] : [WEBSOCKET_LANE, SSE_NEW_CONNECTION_LANE];
  const { store, dataDir } = await openBenchStore();
  let collector: Collector | undefined;
  try {
    await migrateStore(store);
    collector = await startCollector({ store, port: 0 });
    const traffic = await startTraffic({ tracesUrl: `${collector.url}${TRACES_PATH}`, serviceName: BENCH_SERVICE, rttMs: options.rttMs });
    console.log(
      `• ${lanes.map((l) => l.label).join(' vs ')}: ${options.concurrency} users each, ${options.rttMs} ms RTT, TLS, ` +
        `${options.warmupSeconds} s warm-up + ${options.seconds} s measured…`,
    );
    const startedAt = Date.now();
    const window = { from: new Date(startedAt + options.warmupSeconds * 1000), to: new Date(startedAt + (options.warmupSeconds + options.seconds) * 1000) };
    let summaries: Map<string, LoadSummary>;
    try {
      summaries = await traffic.run(lanes, {
        virtualUsers: options.concurrency,
        ratePerLane: CLOSED_LOOP_RATE,
        durationMs: (options.warmupSeconds + options.seconds) * 1000,
        warmupMs: options.warmupSeconds * 1000,
      });
    } finally {
      // Delivers every span, the WebSocket connections' included: they end when the sockets close.
      await traffic.close();
    }

    const comparison = await compareTransports(store.db, { ...window, service: BENCH_SERVICE }, 'raw');
    const figures = Object.fromEntries(lanes.map((lane) => [lane.label, laneFigures(comparison, lane, summaries.get(lane.label))]));
    const diffs = Object.fromEntries(
      lanes.slice(1).map((baseline) => [`${WEBSOCKET_LANE.label} vs ${baseline.label}`, differences(figures[WEBSOCKET_LANE.label], figures[baseline.label])]),
    );
    console.log(`\nWebSocket vs HTTP/SSE, ${options.rttMs} ms RTT, ${options.concurrency} users per transport, ${options.seconds} s measured`);
    console.log('(rows from the store are what the Compare view shows for this window; client rows are the load generator\'s own timings)');
    printTable(lanes, figures, diffs);
    const open = dataDir ? (options.keep ? `STREAMSCOPE_DATA_DIR=${dataDir} npm start` : null) : 'npm start (same DATABASE_URL)';
    if (open) console.log(`\n• to see this run: ${open}, then Compare, service ${BENCH_SERVICE}, ${window.from.toISOString()} – ${window.to.toISOString()}`);
    console.log(
      JSON.stringify({
        bench: 'ws-vs-sse',
        settings: {
          rttMs: options.rttMs,
          concurrencyPerTransport: options.concurrency,
          measuredSeconds: options.seconds,
          warmupSeconds: options.warmupSeconds,
          loop: 'closed',
          tls: true,
          lanes,
          mockSchedule: DEFAULT_SCHEDULE_CONFIG,
        },
        machine: { cpus: os.cpus().length, loadavg1m: round(os.loadavg()[0], 2), node: process.version },
        store: { driver: store.driver, window, dataDir: options.keep ? dataDir : null },
        transports: figures,
        differencePercent: diffs,
      }),
    );
  } finally {
    await collector?.close();
    await store.close();
    if (dataDir && !options.keep) await rm(path.dirname(dataDir), { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Inside the chain, so a bad option reads as the message and usage, not a stack trace.
  Promise.resolve(process.argv.slice(2)).then((args) => runWsVsSseBench(parseBenchArgs(args))).catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
