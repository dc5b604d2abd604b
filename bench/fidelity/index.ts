/*
 * Fidelity: do recorded TTFT and inter-token gaps match what the server did?
 *
 *   npx tsx bench/fidelity/index.ts
 *   node --max-semi-space-size=64 --import tsx bench/fidelity/index.ts   (a larger young generation)
 *
 * A mock model server on a worker thread streams a seeded token schedule to 100 concurrent
 * streams at a time, over WebSocket (ws) and over SSE (fetch, the official openai client).
 * SSE runs a second time with the application reading the body from fetch itself: the
 * official client's parsing makes garbage whose collection pauses stall every timestamp in
 * the thread, and this phase shows the instrumentation's fidelity without them (reported
 * apart; the headline figures are the official clients').
 * For every token, the recorded arrival (span offsets) is compared with the moment the
 * server wrote it (taken right after the write, on the same monotonic clock: threads share
 * it); TTFT and each gap are also compared with the injected schedule, which adds the
 * server's own timer lateness.
 *
 * A timestamp can only be taken once JavaScript runs, so the main thread's stalls (event-loop
 * delay, garbage collection, waiting for a CPU) land in the error whoever records. To tell
 * the instrumentation's part from the machine's, every round also runs a control with the
 * instrumentation off: the application stamps each message at the same point — a `ws`
 * listener ahead of all others, and each `fetch` body chunk as undici hands it over (a
 * pass-through stream under the openai client) — and does nothing else with it until the
 * stream is over. The control stamps each message twice: with its own clock reading, and
 * with the reading the instrumentation uses (instrumentation/src/arrival-clock.ts: the
 * first taken in the same poll of the event loop), so the two clocks are compared on the
 * very same tokens. Instrumented and control phases alternate; each phase has its own
 * event-loop delay histogram and garbage-collection tally, and starts after a full
 * collection, so no phase pays for the garbage of the one before it.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { GEN_AI, RESPONSE, StreamscopeInstrumentation } from '@streamscope/instrumentation';
import OpenAI from 'openai';
import { arrivalTime } from '../../instrumentation/src/arrival-clock.ts';
import type { FidelityServerOptions, SentRecord } from './server-worker.ts';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SERVER: FidelityServerOptions = { seed: 7, tokens: 20, ttftRangeMs: [50, 150], gapRangeMs: [10, 50] };
/**
 * `sse` is the official openai client over fetch; `sse-fetch` an application reading the same
 * SSE body from fetch itself, so the client's own parsing and garbage are out of the picture.
 */
const TRANSPORTS = ['websocket', 'sse', 'sse-fetch'] as const;
type Transport = (typeof TRANSPORTS)[number];
/** The headline figures: the transports as applications use them with the official clients. */
const HEADLINE: readonly Transport[] = ['websocket', 'sse'];
/** Requests of the `sse-fetch` phases name this model, which tells their spans apart. */
const PLAIN_FETCH_MODEL = 'plain-fetch';
const RECORDERS = ['instrumentation', 'control'] as const;
type Recorder = (typeof RECORDERS)[number];

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const exporter = new InMemorySpanExporter();
const instrumentation = new StreamscopeInstrumentation();
instrumentation.setTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
createRequire(import.meta.url)('ws');
const { default: WebSocket } = (await import('ws')) as { default: typeof import('ws').default };

// Workers do not inherit tsx's loader hooks: the worker registers them before loading TypeScript.
const workerUrl = new URL('./server-worker.ts', import.meta.url).href;
const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(workerUrl)}); });`, {
  eval: true,
  workerData: SERVER,
});
const [port] = (await once(worker, 'message')) as [number];

/** A response as a recorder saw it: arrival of each output token, wall-clock ms. */
interface Observed {
  id: string;
  arrivalsWall: number[];
  /** Instrumentation only: the span's request-sent time and TTFT. */
  sentWall?: number;
  ttftMs?: number;
}

const wall = (monotonicMs: number) => performance.timeOrigin + monotonicMs;
const RESPONSE_ID = /"id":"(resp_\d+)"/;
const DELTA = 'response.output_text.delta';

/** Control: what a stamped stream said, read once it is over. */
interface Stamped {
  stamps: number[];
  /** The same moments read with arrivalTime(). */
  pollStamps: number[];
  pieces: Buffer[];
}
type Clock = 'stamps' | 'pollStamps';

/** SSE control: each event counts at the stamp of the chunk that completed it. */
function observedFromSse(stamped: Stamped, clock: Clock): Observed | undefined {
  const { pieces } = stamped;
  const stamps = stamped[clock];
  const ends: number[] = [];
  let total = 0;
  for (const piece of pieces) ends.push((total += piece.length));
  const body = Buffer.concat(pieces);
  const arrivalsWall: number[] = [];
  let id: string | undefined;
  let chunk = 0;
  for (let start = 0, end = body.indexOf('\n\n'); end >= 0; start = end + 2, end = body.indexOf('\n\n', start)) {
    while (ends[chunk] < end + 2) chunk++;
    const event = body.toString('utf8', start, end);
    id ??= RESPONSE_ID.exec(event)?.[1];
    if (event.includes(DELTA)) arrivalsWall.push(wall(stamps[chunk]));
  }
  return id === undefined ? undefined : { id, arrivalsWall };
}

/** WebSocket control: one message per event. */
function observedFromWs(stamped: Stamped, clock: Clock): Observed | undefined {
  const { pieces } = stamped;
  const stamps = stamped[clock];
  const id = pieces.map((p) => RESPONSE_ID.exec(p.toString())?.[1]).find((x) => x !== undefined);
  const arrivalsWall = stamps.filter((_, i) => pieces[i].includes(DELTA)).map(wall);
  return id === undefined ? undefined : { id, arrivalsWall };
}

const controlStreams: Record<Transport, Stamped[]> = { websocket: [], sse: [], 'sse-fetch': [] };

async function wsStream(control: boolean): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/responses`, { perMessageDeflate: false });
  if (control) {
    const stamped: Stamped = { stamps: [], pollStamps: [], pieces: [] };
    controlStreams.websocket.push(stamped);
    ws.prependListener('message', (data: Buffer) => {
      stamped.stamps.push(performance.now());
      stamped.pollStamps.push(arrivalTime());
      stamped.pieces.push(data);
    });
  }
  await once(ws, 'open');
  const done = new Promise<void>((resolve) => ws.on('message', (data: Buffer) => data.includes('response.completed') && resolve()));
  ws.send(JSON.stringify({ type: 'response.create', model: 'mock-model-1', input: 'hi' }));
  await done;
  ws.close();
}

/** The control's fetch: the body passes through a stream that stamps each chunk and keeps it in `into`. */
const stampingFetch = (into: Stamped[]): typeof fetch => async (input, init) => {
  const response = await fetch(input, init);
  const stamped: Stamped = { stamps: [], pollStamps: [], pieces: [] };
  into.push(stamped);
  const body = response.body?.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      stamped.stamps.push(performance.now());
      stamped.pollStamps.push(arrivalTime());
      stamped.pieces.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      controller.enqueue(chunk);
    },
  }));
  return new Response(body, { status: response.status, headers: response.headers });
};

const clientOptions = { apiKey: 'bench', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 };
const clients = { instrumentation: new OpenAI(clientOptions), control: new OpenAI({ ...clientOptions, fetch: stampingFetch(controlStreams.sse) }) };
async function sseStream(control: boolean): Promise<void> {
  const stream = await clients[control ? 'control' : 'instrumentation'].responses.create({ model: 'mock-model-1', input: 'hi', stream: true });
  for await (const event of stream) void event;
}

const plainFetches = { instrumentation: fetch, control: stampingFetch(controlStreams['sse-fetch']) };
/** The same request as the client's, the body read and dropped chunk by chunk. */
async function sseFetchStream(control: boolean): Promise<void> {
  const response = await plainFetches[control ? 'control' : 'instrumentation'](`${clientOptions.baseURL}/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${clientOptions.apiKey}` },
    body: JSON.stringify({ model: PLAIN_FETCH_MODEL, input: 'hi', stream: true }),
  });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  while (!(await reader.read()).done);
}
const STREAMS: Record<Transport, (control: boolean) => Promise<void>> = { websocket: wsStream, sse: sseStream, 'sse-fetch': sseFetchStream };

/** Main-thread stalls measured while one recorder streamed over one transport. */
interface Phase {
  /** One per round: Node 20 cannot merge event-loop delay histograms. */
  loopDelays: IntervalHistogram[];
  gcPausesMs: number[];
}
const phases = new Map<string, Phase>(
  RECORDERS.flatMap((recorder) => TRANSPORTS.map((transport) => [`${recorder}/${transport}`, { loopDelays: [], gcPausesMs: [] }] as const)),
);
/** Every GC pause of the measured rounds, wall-clock, to see which late tokens one explains. */
const gcPauses: { startWall: number; endWall: number }[] = [];
/** The phase being measured, and when it began (entries arrive later than they happen). */
let current: { phase: Phase; since: number } | undefined;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!current || entry.startTime < current.since) continue;
    current.phase.gcPausesMs.push(entry.duration);
    gcPauses.push({ startWall: wall(entry.startTime), endWall: wall(entry.startTime + entry.duration) });
  }
});

async function runPhase(recorder: Recorder, transport: Transport, measured: boolean): Promise<void> {
  const control = recorder === 'control';
  if (control) instrumentation.disable();
  else instrumentation.enable();
  const phase = phases.get(`${recorder}/${transport}`) as Phase;
  collectGarbage();
  // A monitor per phase: a re-enabled one would count the time it was off as one long delay.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  if (measured) {
    current = { phase, since: performance.now() };
    loopDelay.enable();
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, () => STREAMS[transport](control)));
  if (measured) {
    loopDelay.disable();
    phase.loopDelays.push(loopDelay);
    current = undefined;
  }
}

async function runRound(round: number, measured: boolean): Promise<void> {
  // Alternate which recorder goes first, so drift on the machine lands on both.
  const order = round % 2 ? [...RECORDERS].reverse() : RECORDERS;
  for (const recorder of order) for (const transport of TRANSPORTS) await runPhase(recorder, transport, measured);
}

// Warm-up: first-use compilation and module loading would otherwise stall the first streams.
await runRound(0, false);
exporter.reset();
for (const transport of TRANSPORTS) controlStreams[transport].length = 0;
gcObserver.observe({ entryTypes: ['gc'] });
for (let round = 0; round < ROUNDS; round++) await runRound(round, true);
gcObserver.disconnect();
instrumentation.disable();
await new Promise((resolve) => setTimeout(resolve, 200));
worker.postMessage('report');
const [sent] = (await once(worker, 'message')) as [SentRecord[]];
worker.postMessage('close');
const sentById = new Map(sent.map((s) => [s.id, s]));

interface Errors {
  tokenVsSent: number[];
  gapVsSent: number[];
  ttftVsSent: number[];
  ttftVsInjected: number[];
  gapVsInjected: number[];
  /** Tokens recorded more than 1 ms late whose wait overlapped a GC pause of the main thread. */
  lateTokens: number;
  lateTokensDuringGc: number;
}

function collect(observed: Observed[]): Errors {
  const errors: Errors = { tokenVsSent: [], gapVsSent: [], ttftVsSent: [], ttftVsInjected: [], gapVsInjected: [], lateTokens: 0, lateTokensDuringGc: 0 };
  for (const response of observed) {
    const record = sentById.get(response.id);
    if (!record) continue;
    const { arrivalsWall } = response;
    arrivalsWall.forEach((at, i) => {
      const sentAt = record.tokenSentAtWall[i];
      const error = Math.abs(at - sentAt);
      errors.tokenVsSent.push(error);
      if (error > 1) {
        errors.lateTokens++;
        if (gcPauses.some((gc) => gc.startWall < at && gc.endWall > sentAt)) errors.lateTokensDuringGc++;
      }
      if (i === 0) return;
      const gap = at - arrivalsWall[i - 1];
      errors.gapVsSent.push(Math.abs(gap - (sentAt - record.tokenSentAtWall[i - 1])));
      errors.gapVsInjected.push(Math.abs(gap - record.schedule.gapsMs[i - 1]));
    });
    if (response.ttftMs !== undefined && response.sentWall !== undefined) {
      // The server's clock starts when the request arrives; the span's when it left.
      errors.ttftVsSent.push(Math.abs(response.ttftMs - (record.tokenSentAtWall[0] - response.sentWall)));
      errors.ttftVsInjected.push(Math.abs(response.ttftMs - record.schedule.ttftMs));
    }
  }
  return errors;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const round3 = (n: number) => Number(n.toFixed(3));
const summarise = (values: number[]) => ({ n: values.length, p50_ms: round3(quantile(values, 0.5)), p99_ms: round3(quantile(values, 0.99)), max_ms: round3(Math.max(...values)) });

const spans = exporter.getFinishedSpans().filter((s) => s.attributes['streamscope.kind'] === 'response');
function instrumented(transport: Transport): Observed[] {
  const plainFetch = transport === 'sse-fetch';
  const ofTransport = (s: (typeof spans)[number]) =>
    s.attributes['streamscope.transport'] === (transport === 'websocket' ? 'websocket' : 'sse') &&
    (s.attributes[GEN_AI.REQUEST_MODEL] === PLAIN_FETCH_MODEL) === plainFetch;
  return spans.filter(ofTransport).map((span) => {
    const sentWall = span.attributes[RESPONSE.REQUEST_SENT_TIME_MS] as number;
    return {
      id: span.attributes[GEN_AI.RESPONSE_ID] as string,
      sentWall,
      ttftMs: span.attributes[RESPONSE.TTFT_MS] as number,
      arrivalsWall: (span.attributes[RESPONSE.TOKEN_OFFSETS_US] as number[]).map((us) => sentWall + us / 1000),
    };
  });
}
const controlled = (transport: Transport, clock: Clock) =>
  controlStreams[transport].map((stamped) => (transport === 'websocket' ? observedFromWs : observedFromSse)(stamped, clock)).filter((o): o is Observed => o !== undefined);

function report(recorder: Recorder, transport: Transport) {
  const errors = collect(recorder === 'control' ? controlled(transport, 'stamps') : instrumented(transport));
  const phase = phases.get(`${recorder}/${transport}`) as Phase;
  const gc = phase.gcPausesMs;
  const figures: Record<string, unknown> = {
    token_error: summarise(errors.tokenVsSent),
    gap_error: summarise(errors.gapVsSent),
    late_tokens_over_1ms: errors.lateTokens,
    late_tokens_during_gc: errors.lateTokensDuringGc,
    // The rounds' median p50, worst p99 and max.
    event_loop_delay_ms: {
      p50: round3(quantile(phase.loopDelays.map((h) => h.percentile(50)), 0.5) / 1e6),
      p99: round3(Math.max(...phase.loopDelays.map((h) => h.percentile(99))) / 1e6),
      max: round3(Math.max(...phase.loopDelays.map((h) => h.max)) / 1e6),
    },
    gc_pauses: { count: gc.length, total_ms: round3(gc.reduce((a, b) => a + b, 0)), p99_ms: round3(quantile(gc, 0.99)), max_ms: round3(Math.max(0, ...gc)) },
  };
  if (recorder === 'control') {
    figures.token_error_poll_reading = summarise(collect(controlled(transport, 'pollStamps')).tokenVsSent);
  } else {
    Object.assign(figures, { ttft_error: summarise(errors.ttftVsSent), vs_injected: { ttft_error: summarise(errors.ttftVsInjected), gap_error: summarise(errors.gapVsInjected) } });
  }
  return figures;
}

const byRecorder = Object.fromEntries(RECORDERS.map((recorder) => [recorder, Object.fromEntries(TRANSPORTS.map((t) => [t, report(recorder, t)]))]));
const all = collect(HEADLINE.flatMap(instrumented));
const result = {
  bench: 'fidelity',
  workload: `${CONCURRENCY} concurrent streams × ${ROUNDS} rounds per transport (ws client; SSE via the official openai client over fetch; SSE read from fetch by the application itself, reported apart from the headline), ${SERVER.tokens} tokens each, TTFT ${SERVER.ttftRangeMs.join('–')} ms, gaps ${SERVER.gapRangeMs.join('–')} ms (seed ${SERVER.seed}); mock server on a worker thread; |error| = |recorded − server write time| per token, TTFT and gap; instrumentation and a no-instrumentation control (stamps at the same point, with its own clock reading and with the poll's first) in alternating phases`,
  headline_transports: HEADLINE,
  responses: spans.length,
  token_error_p50_ms: round3(quantile(all.tokenVsSent, 0.5)),
  token_error_p99_ms: round3(quantile(all.tokenVsSent, 0.99)),
  gap_error_p50_ms: round3(quantile(all.gapVsSent, 0.5)),
  gap_error_p99_ms: round3(quantile(all.gapVsSent, 0.99)),
  ttft_error_p50_ms: round3(quantile(all.ttftVsSent, 0.5)),
  ttft_error_p99_ms: round3(quantile(all.ttftVsSent, 0.99)),
  by_recorder: byRecorder,
  // Other processes on the machine delay the event loop, and with it every timestamp.
  machine: { node: process.version, v8_flags: process.execArgv.filter((flag) => flag.startsWith('--max') || flag.startsWith('--semi')), cpus: cpus().length, load_average_1m: Number(loadavg()[0].toFixed(2)) },
  target: { error_p99_ms_max: 1 },
};

console.log(`fidelity: ${spans.length} instrumented responses, ${all.tokenVsSent.length} tokens; load average ${result.machine.load_average_1m}`);
for (const recorder of RECORDERS) {
  for (const transport of TRANSPORTS) {
    const r = byRecorder[recorder][transport] as ReturnType<typeof report> & { token_error: ReturnType<typeof summarise>; event_loop_delay_ms: { p99: number; max: number }; gc_pauses: { count: number; max_ms: number } };
    console.log(`  ${recorder.padEnd(15)} ${transport.padEnd(9)} token |error| p50 ${r.token_error.p50_ms} ms  p99 ${r.token_error.p99_ms} ms  max ${r.token_error.max_ms} ms (n=${r.token_error.n});  loop delay p99 ${r.event_loop_delay_ms.p99} ms, max ${r.event_loop_delay_ms.max} ms;  GC ${r.gc_pauses.count} pauses, max ${r.gc_pauses.max_ms} ms;  late > 1 ms ${String(r.late_tokens_over_1ms)}, during GC ${String(r.late_tokens_during_gc)}`);
    const poll = r.token_error_poll_reading as ReturnType<typeof summarise> | undefined;
    if (poll) console.log(`  ${''.padEnd(15)} ${''.padEnd(9)} same tokens, the poll's first reading: p50 ${poll.p50_ms} ms  p99 ${poll.p99_ms} ms  max ${poll.max_ms} ms`);
  }
}
console.log(JSON.stringify(result));
