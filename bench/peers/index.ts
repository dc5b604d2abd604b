/*
 * Streamscope's instrumentation against the GenAI instrumentations teams already run, on one
 * workload: the official `openai` client streaming Chat Completions over SSE from the local
 * mock, N streams at a time, with a seeded token schedule the mock reports per response.
 * The workload has two phases (./worker.ts): paced by the schedule, for TTFT error; then
 * the same streams with no gaps, saturating the client, for CPU and throughput.
 *
 *   npx tsx bench/peers/index.ts [--smoke]
 *
 * Each mode (no instrumentation, Streamscope's, each peer package) runs in a child process
 * of its own (./worker.ts), in interleaved rounds so drift lands on every mode. Spans go
 * over OTLP/HTTP to a sink here, kept as bytes until the child is done and decoded with the
 * collector's decoder afterwards, so decoding never competes with the mock's timers.
 *
 * Reported per mode: CPU per streamed chunk (µs, process.cpuUsage of the child over the
 * streaming and the final export) and what the instrumentation adds to it; throughput loss
 * of the saturated client, 1 − CPU per chunk without / with (the wall-clock chunks/s is in
 * the JSON too, but on a shared machine it measures the neighbours as much as the
 * instrumentation); TTFT error
 * against the injected schedule (|recorded − injected| p50/p99, over the responses whose
 * span carries a TTFT), and what each package records (capability row), read from its
 * spans. Medians over rounds. CPU per chunk drifts with the machine's other work by more
 * than the packages differ, so each round runs every mode back to back and the comparison
 * is made within a round: added CPU is the mode's figure minus `none`'s in the same round,
 * and Streamscope's against each peer is the per-round difference, reported as median,
 * range, and how many rounds Streamscope was the cheaper. Human tables, then one final
 * JSON line.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { decodeTraceRequest, type DecodedSpan, type OtlpEncoding } from '../../collector/otlp/decode';
import { encodeExportTraceResponse } from '../../collector/otlp/encode';
import { readBody } from '../../collector/read-body';
import { createMockModelServer } from '../../demo/mock-server/mock-model-server';
import type { ScheduleConfig } from '../../demo/mock-server/schedule';
import { MODES, PACKAGE_OF, type Mode } from './setup';
import type { WorkerResult, WorkerTask } from './worker';

const SMOKE = process.argv.includes('--smoke');
const ROUNDS = Number(process.env.ROUNDS ?? (SMOKE ? 1 : 7));
const CONCURRENCY = Number(process.env.CONCURRENCY ?? (SMOKE ? 4 : 16));
const BURST_RESPONSES = Number(process.env.BURST_RESPONSES ?? (SMOKE ? 16 : 240));
const PACED_RESPONSES = Number(process.env.PACED_RESPONSES ?? (SMOKE ? 16 : 64));
const WARMUP_RESPONSES = SMOKE ? 4 : 32;
const WEBSOCKET_RESPONSES = 2;
const MODEL = 'gpt-4.1-mini';
/** TTFT varies per response, so a recorder cannot be right by accident. */
const PACED: Partial<ScheduleConfig> = {
  ttftMs: { kind: 'uniform', min: 30, max: 90 },
  interTokenMs: { kind: 'lognormal', median: 4, sigma: 0.3, max: 20 },
  outputTokens: { kind: 'constant', value: 50 },
  errorRate: 0,
};
/** No gaps: the client, not the schedule, sets the pace, so instrumentation cost shows as lost throughput. */
const BURST: Partial<ScheduleConfig> = { ...PACED, interTokenMs: { kind: 'constant', value: 0 }, outputTokens: { kind: 'constant', value: 200 } };
const MAX_SINK_BODY_BYTES = 64 * 1024 * 1024;

/** Where a span says its TTFT, first match wins, and the factor to milliseconds. */
const TTFT_ATTRIBUTES: [key: string, toMs: number][] = [
  ['streamscope.response.ttft_ms', 1],
  ['gen_ai.response.time_to_first_chunk', 1000],
  ['gen_ai.server.time_to_first_token', 1000],
];

interface Capabilities {
  ttft: boolean;
  /** 'p50/p99/max' (every gap), 'mean' (one average per response) or '—'. */
  interTokenLatency: string;
  perTokenTimeline: boolean;
  connectionOverhead: boolean;
  websocketMode: boolean;
}

interface RoundResult extends WorkerResult {
  ttftErrorsMs: number[];
  capabilities: Capabilities;
}

// --- the sink: OTLP bytes per request, decoded once the child is done ---------------------

const received: { body: Buffer; encoding: OtlpEncoding }[] = [];
const sink = createServer((req: IncomingMessage, res: ServerResponse) => {
  const encoding: OtlpEncoding = String(req.headers['content-type']).startsWith('application/json') ? 'json' : 'protobuf';
  readBody(req, MAX_SINK_BODY_BYTES).then(
    (body) => {
      // Metrics and logs are accepted and dropped: the comparison is about spans.
      if ((req.url ?? '').startsWith('/v1/traces')) received.push({ body, encoding });
      res.writeHead(200, { 'content-type': encoding === 'json' ? 'application/json' : 'application/x-protobuf' });
      res.end(encodeExportTraceResponse(encoding));
    },
    (error: unknown) => {
      res.writeHead(400);
      res.end(String(error));
    },
  );
});
sink.listen(0, '127.0.0.1');
await once(sink, 'listening');
const otlpUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const pacedMock = await createMockModelServer({ seed: 2026, schedule: PACED, rememberSchedules: 100_000 });
const burstMock = await createMockModelServer({ seed: 2027, schedule: BURST });

function spansOf(service: string): DecodedSpan[] {
  const spans = received.flatMap(({ body, encoding }) => decodeTraceRequest(body, encoding).spans);
  received.length = 0;
  return spans.filter((span) => span.resource['service.name'] === service);
}

function ttftMsOf(span: DecodedSpan): number | null {
  for (const [key, toMs] of TTFT_ATTRIBUTES) {
    const value = span.attributes[key];
    if (typeof value === 'number') return value * toMs;
  }
  return null;
}

function capabilitiesOf(spans: DecodedSpan[], sseResponses: number): Capabilities {
  const has = (key: string) => spans.some((span) => key in span.attributes);
  const responseSpans = spans.filter((span) => span.attributes['streamscope.kind'] !== 'connection');
  let interTokenLatency = '—';
  if (has('streamscope.response.itl_p99_ms')) interTokenLatency = 'p50/p99/max';
  else if (has('gen_ai.server.time_per_output_token')) interTokenLatency = 'mean';
  return {
    ttft: responseSpans.some((span) => ttftMsOf(span) !== null),
    interTokenLatency,
    perTokenTimeline: has('streamscope.response.token_offsets_us'),
    connectionOverhead: spans.some((span) => span.attributes['streamscope.kind'] === 'connection'),
    // Responses beyond the SSE ones can only be the WebSocket ones streamed at the end.
    websocketMode: responseSpans.length > sseResponses,
  };
}

async function runMode(mode: Mode, round: number): Promise<RoundResult> {
  const service = `bench-peers-${mode}-${round}`;
  const child: ChildProcess = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], {
    // CPU_PROF_DIR=dir writes each child's V8 CPU profile there (`--cpu-prof`).
    execArgv: ['--import', 'tsx', ...(process.env.CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.CPU_PROF_DIR] : [])],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const task: WorkerTask = {
    mode, pacedUrl: pacedMock.url, burstUrl: burstMock.url, otlpUrl, service, model: MODEL,
    warmupResponses: WARMUP_RESPONSES, pacedResponses: PACED_RESPONSES, burstResponses: BURST_RESPONSES,
    concurrency: CONCURRENCY, websocketResponses: WEBSOCKET_RESPONSES,
  };
  child.send(task);
  const [result] = (await once(child, 'message')) as [WorkerResult];
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${mode} worker exited with ${code}`);

  const spans = spansOf(service);
  const errorMs = (id: string, recordedMs: number) => Math.abs(recordedMs - (pacedMock.scheduleFor(id)?.ttftMs ?? Number.NaN));
  // Without instrumentation, the application's own view is the figure: the floor every recorder shares.
  const recorded: [string, number | null][] = mode === 'none'
    ? Object.entries(result.pacedTtftMs)
    : spans.map((span) => [String(span.attributes['gen_ai.response.id']), ttftMsOf(span)]);
  const ttftErrorsMs = recorded
    .filter((entry): entry is [string, number] => Object.hasOwn(result.pacedTtftMs, entry[0]) && entry[1] !== null)
    .map(([id, ms]) => errorMs(id, ms))
    .filter((ms) => !Number.isNaN(ms));
  return { ...result, ttftErrorsMs, capabilities: capabilitiesOf(spans, result.sseResponses) };
}

function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const median = (values: number[]) => quantile(values, 0.5) ?? Number.NaN;
const round2 = (value: number | null) => (value === null ? null : Math.round(value * 100) / 100);
/** Median and range of per-round figures. */
const spread = (values: number[]) => ({ median: round2(median(values)), min: round2(Math.min(...values)), max: round2(Math.max(...values)) });

const startedAt = Date.now();
// MODES=streamscope,openlit runs those (and always `none`, the baseline) only.
const selected = MODES.filter((mode) => mode === 'none' || !process.env.MODES || process.env.MODES.split(',').includes(mode));
const results = new Map<Mode, RoundResult[]>(selected.map((mode) => [mode, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Rotating the order puts each mode early and late in turn.
  const order = selected.map((_, i) => selected[(i + round) % selected.length]);
  for (const mode of order) {
    process.stderr.write(`round ${round + 1}/${ROUNDS}: ${mode}\n`);
    results.get(mode)?.push(await runMode(mode, round));
  }
}
await Promise.all([pacedMock.close(), burstMock.close()]);
sink.close();

const summary = selected.map((mode) => {
  const rounds = results.get(mode) ?? [];
  const perRound = rounds.map((r) => r.cpuUs / r.chunks);
  const cpuUsPerChunk = median(perRound);
  const wallChunksPerSecond = median(rounds.map((r) => (r.chunks * 1000) / r.streamingMs));
  const errors = rounds.flatMap((r) => r.ttftErrorsMs);
  const responses = rounds.reduce((sum, r) => sum + Object.keys(r.pacedTtftMs).length, 0);
  return {
    mode,
    package: mode === 'none' ? null : PACKAGE_OF[mode],
    perRound,
    cpuUsPerChunk,
    wallChunksPerSecond,
    failures: rounds.reduce((sum, r) => sum + r.failures, 0),
    ttftErrorP50Ms: quantile(errors, 0.5),
    ttftErrorP99Ms: quantile(errors, 0.99),
    ttftCoverage: responses === 0 ? 0 : errors.length / responses,
    capabilities: rounds[0].capabilities,
  };
});
const baseline = summary[0];
const sdk = summary.find((s) => s.mode === 'sdk');
/** `a` minus `b`, round by round (both ran in each round). */
const pairedDifference = (a: number[], b: number[]) => a.map((value, round) => value - b[round]);
const figures = summary.map((s) => ({
  mode: s.mode,
  package: s.package,
  cpu_us_per_chunk: round2(s.cpuUsPerChunk),
  cpu_us_per_chunk_rounds: spread(s.perRound),
  added_cpu_us_per_chunk: round2(median(pairedDifference(s.perRound, baseline.perRound))),
  added_cpu_us_per_chunk_rounds: spread(pairedDifference(s.perRound, baseline.perRound)),
  // What the package itself adds to the SDK it runs in (null for `none` and `sdk`).
  added_over_sdk_cpu_us_per_chunk: sdk && s.mode !== 'none' && s.mode !== 'sdk' ? spread(pairedDifference(s.perRound, sdk.perRound)) : null,
  // A saturated client streams 1e6 / (CPU µs per chunk) chunks per CPU-second.
  chunks_per_cpu_second: Math.round(1e6 / s.cpuUsPerChunk),
  throughput_loss_percent: round2((1 - baseline.cpuUsPerChunk / s.cpuUsPerChunk) * 100),
  wall_clock_chunks_per_second: Math.round(s.wallChunksPerSecond),
  wall_clock_loss_percent: round2(((baseline.wallChunksPerSecond - s.wallChunksPerSecond) / baseline.wallChunksPerSecond) * 100),
  ttft_error_ms_p50: round2(s.ttftErrorP50Ms),
  ttft_error_ms_p99: round2(s.ttftErrorP99Ms),
  ttft_coverage_percent: round2(s.ttftCoverage * 100),
  failures: s.failures,
  capabilities: s.capabilities,
}));

const streamscope = summary.find((s) => s.mode === 'streamscope');
/** Streamscope's CPU per chunk minus each peer's, round by round: negative means Streamscope costs less. */
const streamscopeVsPeers = streamscope
  ? Object.fromEntries(summary.filter((s) => !['none', 'sdk', 'streamscope'].includes(s.mode)).map((peer) => {
      const difference = pairedDifference(streamscope.perRound, peer.perRound);
      return [peer.mode, { ...spread(difference), rounds_streamscope_cheaper: difference.filter((d) => d < 0).length, rounds: difference.length }];
    }))
  : {};

const pad = (value: unknown, width: number) => String(value ?? '—').padEnd(width);
const yes = (flag: boolean) => (flag ? 'yes' : 'no');
console.log(`\nbench/peers: official openai client, Chat Completions over SSE, ${CONCURRENCY} concurrent streams, ${ROUNDS} round(s) per mode`);
console.log(`  paced: ${PACED_RESPONSES} streams of 50 tokens, TTFT 30–90 ms, gaps ~4 ms (TTFT error)`);
console.log(`  burst: ${BURST_RESPONSES} streams of 200 tokens, no gaps (CPU per chunk, throughput)\n`);
console.log(`${pad('mode', 15)}${pad('CPU µs/chunk', 14)}${pad('added µs', 10)}${pad('chunks/CPU-s', 14)}${pad('loss %', 8)}${pad('TTFT err p50', 14)}${pad('p99 ms', 9)}TTFT recorded`);
for (const f of figures) {
  console.log(`${pad(f.mode, 15)}${pad(f.cpu_us_per_chunk, 14)}${pad(f.mode === 'none' ? '—' : f.added_cpu_us_per_chunk, 10)}${pad(f.chunks_per_cpu_second, 14)}${pad(f.mode === 'none' ? '—' : f.throughput_loss_percent, 8)}${pad(f.ttft_error_ms_p50, 14)}${pad(f.ttft_error_ms_p99, 9)}${f.mode === 'none' ? '(the application\'s own view)' : `${f.ttft_coverage_percent} %`}`);
}
for (const f of figures) {
  const r = f.added_cpu_us_per_chunk_rounds;
  const overSdk = f.added_over_sdk_cpu_us_per_chunk;
  if (f.mode !== 'none') console.log(`${pad(f.mode, 15)}added µs/chunk per round: median ${r.median}, range ${r.min} … ${r.max}${overSdk ? `; over the SDK alone: median ${overSdk.median}, range ${overSdk.min} … ${overSdk.max}` : ''}`);
}
for (const [peer, d] of Object.entries(streamscopeVsPeers)) {
  console.log(`streamscope − ${pad(peer, 14)} µs/chunk per round: median ${d.median}, range ${d.min} … ${d.max}; cheaper in ${d.rounds_streamscope_cheaper}/${d.rounds} rounds`);
}
console.log(`\n${pad('package', 46)}${pad('TTFT', 6)}${pad('ITL', 13)}${pad('timeline', 10)}${pad('connection', 12)}WebSocket mode`);
for (const f of figures.filter((f) => f.mode !== 'none' && f.mode !== 'sdk')) {
  const c = f.capabilities;
  console.log(`${pad(f.package, 46)}${pad(yes(c.ttft), 6)}${pad(c.interTokenLatency, 13)}${pad(yes(c.perTokenTimeline), 10)}${pad(yes(c.connectionOverhead), 12)}${yes(c.websocketMode)}`);
}
console.log(JSON.stringify({
  bench: 'peers',
  workload: {
    client: 'openai (official) chat.completions.create({ stream: true }) over SSE',
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    warmup_responses: WARMUP_RESPONSES,
    paced: { responses: PACED_RESPONSES, schedule: PACED },
    burst: { responses: BURST_RESPONSES, schedule: BURST },
    websocket_responses_per_round: WEBSOCKET_RESPONSES,
    export: 'OTLP/HTTP to a local sink (protobuf; OpenLIT: its own JSON exporter)',
  },
  modes: figures,
  streamscope_minus_peer_cpu_us_per_chunk: streamscopeVsPeers,
  duration_s: Math.round((Date.now() - startedAt) / 1000),
  machine: { cpus: cpus().length, load_average_1m: Number(loadavg()[0].toFixed(2)) },
}));
