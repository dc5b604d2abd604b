/*
 * Cost of the instrumentation on the SSE hot path, network excluded.
 *
 *   npx tsx bench/instrumentation-overhead/sse.ts
 *   node --cpu-prof --import tsx bench/instrumentation-overhead/sse.ts   (profile)
 *
 * `fetch` is replaced, before the instrumentation wraps it, by one that answers every
 * `POST /v1/chat/completions` with an in-memory `text/event-stream` body: the chunks the
 * mock server sends (one `data:` event per chunk: role, content deltas, finish reason,
 * usage, `[DONE]`), built once and enqueued as the network would deliver them. The
 * application reads the body the way the official `openai` client does (async iteration
 * of `response.body`) and checks it got the same bytes. Rounds alternate instrumentation
 * off / on / on with a meter provider (the OpenTelemetry metrics SDK with a reader, as an
 * application that exports metrics has) / the same with `timePerOutputChunkMetric` off, in
 * the same process; the figure is process CPU
 * (user + system, so garbage collection threads count) per chunk, medians per mode. A second workload cuts the same
 * bytes at fixed 1 KiB boundaries, as a busy socket coalesces writes, so events straddle
 * chunks. Summary lines, then one final JSON line.
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
const workloads: Record<string, Uint8Array[]> = {
  'one event per chunk': events.map((e) => encoder.encode(e)),
  [`${COALESCED_CHUNK_BYTES} B chunks`]: Array.from({ length: Math.ceil(wholeBody.byteLength / COALESCED_CHUNK_BYTES) }, (_, i) =>
    wholeBody.subarray(i * COALESCED_CHUNK_BYTES, (i + 1) * COALESCED_CHUNK_BYTES),
  ),
};
let chunks: Uint8Array[] = [];

// Installed before the instrumentation, which wraps whatever `fetch` is global when enabled.
globalThis.fetch = async () => {
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
};

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

const results: Record<string, {
  chunks_per_response: number;
  cpu_us_per_chunk_without: number;
  cpu_us_per_chunk_with: number;
  added_us_per_chunk: number;
  cpu_us_per_chunk_with_meter_provider: number;
  added_us_per_chunk_with_meter_provider: number;
  added_us_per_chunk_with_meter_provider_no_per_chunk_metric: number;
}> = {};
for (const [name, workload] of Object.entries(workloads)) {
  chunks = workload;
  instrumentation.enable();
  await checkIdentical();
  const [without, withIt, withMetrics, withMetricsNoChunks] = await rotatedMedians(ROUNDS_PER_MODE, round);
  results[name] = {
    chunks_per_response: chunks.length,
    cpu_us_per_chunk_without: Number(without.toFixed(3)),
    cpu_us_per_chunk_with: Number(withIt.toFixed(3)),
    added_us_per_chunk: Number((withIt - without).toFixed(3)),
    cpu_us_per_chunk_with_meter_provider: Number(withMetrics.toFixed(3)),
    added_us_per_chunk_with_meter_provider: Number((withMetrics - without).toFixed(3)),
    added_us_per_chunk_with_meter_provider_no_per_chunk_metric: Number((withMetricsNoChunks - without).toFixed(3)),
  };
  console.log(`${name.padEnd(22)} without ${without.toFixed(2)} µs/chunk   with ${withIt.toFixed(2)} (added ${(withIt - without).toFixed(2)})   with a meter provider ${withMetrics.toFixed(2)} (added ${(withMetrics - without).toFixed(2)}; ${(withMetricsNoChunks - without).toFixed(2)} without the per-chunk metric)`);
}
instrumentation.disable();

console.log(JSON.stringify({
  bench: 'instrumentation-overhead-sse',
  workload: `fetch answered in memory with a ${TOKENS}-token chat completion (${wholeBody.byteLength} B); ${RESPONSES_PER_ROUND} responses per round read by async iteration; ${ROUNDS_PER_MODE} rounds per mode (off; on; on with a metrics SDK meter provider collected each round; the same with timePerOutputChunkMetric off), interleaved, medians of process CPU per chunk`,
  workloads: results,
  machine: { node: process.version, cpus: cpus().length, load_average_1m: Number(loadavg()[0].toFixed(2)) },
}));
