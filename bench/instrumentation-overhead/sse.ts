/*
 * Cost of the instrumentation on the SSE hot path, network excluded.
 *
 *   npx tsx bench/instrumentation-overhead/sse.ts
 *   node --cpu-prof --import tsx bench/instrumentation-overhead/sse.ts   (profile)
 *
 * Every `POST /v1/chat/completions` is answered from memory with a `text/event-stream`
 * body: the chunks the mock server sends (one `data:` event per chunk: role, content
 * deltas, finish reason, usage, `[DONE]`), built once. Two paths:
 * - `dispatcher`: undici's own `fetch` over a dispatcher that answers from memory, one chunk
 *   per event-loop turn as a socket's reads come, honouring undici's backpressure. The
 *   instrumentation wraps that dispatcher as it wraps the one a real call uses, so chunks
 *   are observed as undici hands them over: the path the official client takes.
 * - `pass-through`: `fetch` itself replaced (before the instrumentation wraps it) by one
 *   returning a Response over a ReadableStream, which the instrumentation can only observe
 *   through its pass-through stream: the path of a `fetch` that is not undici's.
 * The application reads the body the way the official `openai` client does (async
 * iteration of `response.body`) and checks it got the same bytes. Rounds alternate
 * instrumentation off / on / on with a meter provider (the OpenTelemetry metrics SDK with a
 * reader, as an application that exports metrics has) / the same with
 * `timePerOutputChunkMetric` off, in the same process; the figure is process CPU (user +
 * system, so garbage collection threads count) per chunk, medians per mode. A second
 * workload cuts the same bytes at fixed 1 KiB boundaries, as a busy socket coalesces
 * writes, so events straddle chunks. Summary lines, then one final JSON line.
 */
import { cpus, loadavg } from 'node:os';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';
import { modeSwitch, rotatedMedians, type Mode } from './modes';

const RESPONSES_PER_ROUND = Number(process.env.RESPONSES_PER_ROUND ?? 400);
const ROUNDS_PER_MODE = Number(process.env.ROUNDS ?? 8);
const TOKENS = 200;
const COALESCED_CHUNK_BYTES = 1024;
const URL_PATH = 'http://bench.invalid/v1/chat/completions';

const encoder = new TextEncoder();

/** The events of one streamed chat completion, as the local mock writes them. */
function completionEvents(): string[] {
  const base = { id: 'chatcmpl-bench0123456789', object: 'chat.completion.chunk', created: 1_780_000_000, model: 'gpt-4.1-mini', system_fingerprint: 'fp_mock' };
  const choice = (delta: Record<string, unknown>, finishReason: string | null) => [{ index: 0, delta, logprobs: null, finish_reason: finishReason }];
  const events = [{ ...base, choices: choice({ role: 'assistant', content: '' }, null) }];
  for (let i = 0; i < TOKENS; i++) events.push({ ...base, choices: choice({ content: i % 7 ? ' tok' : ' naïve' }, null) });
  events.push({ ...base, choices: choice({}, 'stop') });
  const usage = { prompt_tokens: 12, completion_tokens: TOKENS, total_tokens: TOKENS + 12 };
  return [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), `data: ${JSON.stringify({ ...base, choices: [], usage })}\n\n`, 'data: [DONE]\n\n'];
}

const events = completionEvents();
const wholeBody = encoder.encode(events.join(''));
const workloads: Record<string, Buffer[]> = {
  'one event per chunk': events.map((e) => Buffer.from(e)),
  [`${COALESCED_CHUNK_BYTES} B chunks`]: Array.from({ length: Math.ceil(wholeBody.byteLength / COALESCED_CHUNK_BYTES) }, (_, i) =>
    Buffer.from(wholeBody.buffer, i * COALESCED_CHUNK_BYTES, Math.min(COALESCED_CHUNK_BYTES, wholeBody.byteLength - i * COALESCED_CHUNK_BYTES)),
  ),
};
let chunks: Buffer[] = [];

const PATHS = ['dispatcher', 'pass-through'] as const;
type Path = (typeof PATHS)[number];
let path: Path = 'dispatcher';

/** The callback-style handler undici's `fetch` gives a dispatcher (Node 20 and 22). */
interface FetchHandler {
  onConnect(abort: (reason?: unknown) => void): void;
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: Buffer[]): void;
}

const RAW_HEADERS = [Buffer.from('content-type'), Buffer.from('text/event-stream')];

/** Answers every request from memory, one chunk per loop turn, pausing while undici says so. */
const inMemoryDispatcher = {
  dispatch(_options: object, handler: FetchHandler): boolean {
    if (typeof handler.onHeaders !== 'function') throw new Error(`this Node's fetch (${process.version}) hands dispatchers a handler this benchmark does not drive; run it on Node 20 or 22`);
    let aborted = false;
    let paused = false;
    let next = 0;
    const deliver = () => {
      if (aborted) return;
      if (next === chunks.length) return handler.onComplete([]);
      paused = !handler.onData(chunks[next++]);
      if (!paused) setImmediate(deliver);
    };
    const resume = () => {
      if (!paused) return;
      paused = false;
      setImmediate(deliver);
    };
    handler.onConnect(() => (aborted = true));
    setImmediate(() => {
      if (aborted) return;
      paused = !handler.onHeaders(200, RAW_HEADERS, resume, 'OK');
      if (!paused) deliver();
    });
    return true;
  },
};
(globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')] = inMemoryDispatcher;

const undiciFetch = globalThis.fetch;
/** A Response over a stream of the chunks, handed over as the application reads. */
async function answeredByFetch(): Promise<Response> {
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}
// Installed before the instrumentation, which wraps whatever `fetch` is global when enabled.
globalThis.fetch = (input, init) => (path === 'pass-through' ? answeredByFetch() : undiciFetch(input, init));

const exporter = new InMemorySpanExporter();
const instrumentation = new StreamscopeInstrumentation({ enabled: false });
instrumentation.setTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const modes = modeSwitch(instrumentation);

const requestBody = JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });

/** Streams one response as the openai client reads it; returns the bytes received. */
async function streamOne(): Promise<number> {
  const response = await fetch(URL_PATH, { method: 'POST', body: requestBody, headers: { 'content-type': 'application/json' } });
  let bytes = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
  return bytes;
}

/** The application must see the very same bytes, chunk for chunk, with the instrumentation on. */
async function checkIdentical(): Promise<void> {
  const response = await fetch(URL_PATH, { method: 'POST', body: requestBody });
  let i = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const expected = chunks[i++];
    if (chunk.byteLength !== expected.byteLength || !chunk.every((byte, j) => byte === expected[j])) throw new Error(`chunk ${i - 1} differs`);
  }
  if (i !== chunks.length) throw new Error(`got ${i} chunks, sent ${chunks.length}`);
  const [span] = exporter.getFinishedSpans();
  const recorded = [span?.attributes['streamscope.response.output_chunks'], span?.attributes['streamscope.response.outcome'], span?.attributes['gen_ai.usage.output_tokens']];
  if (recorded.join() !== `${TOKENS},completed,${TOKENS}`) throw new Error(`span recorded ${recorded.join()}`);
  exporter.reset();
}

async function round(mode: Mode): Promise<number> {
  modes.apply(mode);
  const cpuBefore = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < RESPONSES_PER_ROUND; i++) bytes += await streamOne();
  await modes.collect();
  const cpu = process.cpuUsage(cpuBefore);
  if (bytes !== RESPONSES_PER_ROUND * wholeBody.byteLength) throw new Error('short read');
  exporter.reset();
  return (cpu.user + cpu.system) / (RESPONSES_PER_ROUND * chunks.length);
}

interface Figures {
  chunks_per_response: number;
  cpu_us_per_chunk_without: number;
  cpu_us_per_chunk_with: number;
  added_us_per_chunk: number;
  cpu_us_per_chunk_with_meter_provider: number;
  added_us_per_chunk_with_meter_provider: number;
  added_us_per_chunk_with_meter_provider_no_per_chunk_metric: number;
}
const results: Record<Path, Record<string, Figures>> = { dispatcher: {}, 'pass-through': {} };
for (path of PATHS) {
  for (const [name, workload] of Object.entries(workloads)) {
    chunks = workload;
    instrumentation.enable();
    await checkIdentical();
    const [without, withIt, withMetrics, withMetricsNoChunks] = await rotatedMedians(ROUNDS_PER_MODE, round);
    results[path][name] = {
      chunks_per_response: chunks.length,
      cpu_us_per_chunk_without: Number(without.toFixed(3)),
      cpu_us_per_chunk_with: Number(withIt.toFixed(3)),
      added_us_per_chunk: Number((withIt - without).toFixed(3)),
      cpu_us_per_chunk_with_meter_provider: Number(withMetrics.toFixed(3)),
      added_us_per_chunk_with_meter_provider: Number((withMetrics - without).toFixed(3)),
      added_us_per_chunk_with_meter_provider_no_per_chunk_metric: Number((withMetricsNoChunks - without).toFixed(3)),
    };
    console.log(`${`${path}, ${name}`.padEnd(36)} without ${without.toFixed(2)} µs/chunk   with ${withIt.toFixed(2)} (added ${(withIt - without).toFixed(2)})   with a meter provider ${withMetrics.toFixed(2)} (added ${(withMetrics - without).toFixed(2)}; ${(withMetricsNoChunks - without).toFixed(2)} without the per-chunk metric)`);
  }
}
instrumentation.disable();

console.log(JSON.stringify({
  bench: 'instrumentation-overhead-sse',
  workload: `a ${TOKENS}-token chat completion (${wholeBody.byteLength} B) answered from memory by undici's dispatcher under fetch (dispatcher) and by fetch itself (pass-through); ${RESPONSES_PER_ROUND} responses per round read by async iteration; ${ROUNDS_PER_MODE} rounds per mode (off; on; on with a metrics SDK meter provider collected each round; the same with timePerOutputChunkMetric off), interleaved, medians of process CPU per chunk`,
  paths: results,
  machine: { node: process.version, cpus: cpus().length, load_average_1m: Number(loadavg()[0].toFixed(2)) },
}));
