/*
 * Fidelity: do recorded TTFT and inter-token gaps match what the server did?
 *
 * A mock model server on a worker thread streams a seeded token schedule to 100 concurrent
 * streams at a time, over WebSocket (ws) and over SSE (fetch, the official openai client).
 * For every token, the recorded arrival (span offsets) is compared with the moment the
 * server wrote it; TTFT and each gap are also compared with the injected schedule, which
 * adds the server's own timer lateness.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { GEN_AI, RESPONSE, StreamscopeInstrumentation } from '@streamscope/instrumentation';
import OpenAI from 'openai';
import type { FidelityServerOptions, SentRecord } from './server-worker.ts';

const CONCURRENCY = Number(process.env.CONCURRENCY ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SERVER: FidelityServerOptions = { seed: 7, tokens: 20, ttftRangeMs: [50, 150], gapRangeMs: [10, 50] };

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

async function wsStream(): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/responses`, { perMessageDeflate: false });
  await once(ws, 'open');
  const done = new Promise<void>((resolve) => ws.on('message', (data: Buffer) => data.includes('response.completed') && resolve()));
  ws.send(JSON.stringify({ type: 'response.create', model: 'mock-model-1', input: 'hi' }));
  await done;
  ws.close();
}

const openai = new OpenAI({ apiKey: 'bench', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
async function sseStream(): Promise<void> {
  const stream = await openai.responses.create({ model: 'mock-model-1', input: 'hi', stream: true });
  for await (const event of stream) void event;
}

async function runRound(): Promise<void> {
  await Promise.all(Array.from({ length: CONCURRENCY }, wsStream));
  await Promise.all(Array.from({ length: CONCURRENCY }, sseStream));
}

// Warm-up: first-use compilation and module loading would otherwise stall the first streams.
await runRound();
exporter.reset();
// Timestamps are taken when JavaScript first sees the bytes: main-thread lag bounds fidelity.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
for (let round = 0; round < ROUNDS; round++) await runRound();
loopDelay.disable();
await new Promise((resolve) => setTimeout(resolve, 200));
worker.postMessage('report');
const [sent] = (await once(worker, 'message')) as [SentRecord[]];
worker.postMessage('close');

interface Errors {
  tokenVsSent: number[];
  ttftVsSent: number[];
  gapVsSent: number[];
  ttftVsInjected: number[];
  gapVsInjected: number[];
}

function collect(spans: ReadableSpan[]): Errors {
  const byId = new Map(sent.map((s) => [s.id, s]));
  const errors: Errors = { tokenVsSent: [], ttftVsSent: [], gapVsSent: [], ttftVsInjected: [], gapVsInjected: [] };
  for (const span of spans) {
    const record = byId.get(span.attributes[GEN_AI.RESPONSE_ID] as string);
    if (!record) continue;
    const sentWall = span.attributes[RESPONSE.REQUEST_SENT_TIME_MS] as number;
    const arrivals = (span.attributes[RESPONSE.TOKEN_OFFSETS_US] as number[]).map((us) => sentWall + us / 1000);
    arrivals.forEach((at, i) => {
      errors.tokenVsSent.push(Math.abs(at - record.tokenSentAtWall[i]));
      if (i === 0) return;
      const gap = at - arrivals[i - 1];
      errors.gapVsSent.push(Math.abs(gap - (record.tokenSentAtWall[i] - record.tokenSentAtWall[i - 1])));
      errors.gapVsInjected.push(Math.abs(gap - record.schedule.gapsMs[i - 1]));
    });
    const ttft = span.attributes[RESPONSE.TTFT_MS] as number;
    // The server's clock starts when the request arrives; the span's when it left.
    errors.ttftVsSent.push(Math.abs(ttft - (record.tokenSentAtWall[0] - sentWall)));
    errors.ttftVsInjected.push(Math.abs(ttft - record.schedule.ttftMs));
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
const byTransport = (transport: string) => collect(spans.filter((s) => s.attributes['streamscope.transport'] === transport));
const report = Object.fromEntries(
  ['websocket', 'sse'].map((transport) => {
    const errors = byTransport(transport);
    return [transport, Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, summarise(v)]))];
  }),
);
const all = collect(spans);
const result = {
  bench: 'fidelity',
  workload: `${CONCURRENCY} concurrent streams × ${ROUNDS} rounds per transport (ws client; SSE via the official openai client over fetch), ${SERVER.tokens} tokens each, TTFT ${SERVER.ttftRangeMs.join('–')} ms, gaps ${SERVER.gapRangeMs.join('–')} ms (seed ${SERVER.seed}); mock server on a worker thread; |error| = |recorded − server write time| per token, TTFT and gap; also vs the injected schedule`,
  responses: spans.length,
  token_error_p50_ms: round3(quantile(all.tokenVsSent, 0.5)),
  token_error_p99_ms: round3(quantile(all.tokenVsSent, 0.99)),
  gap_error_p50_ms: round3(quantile(all.gapVsSent, 0.5)),
  gap_error_p99_ms: round3(quantile(all.gapVsSent, 0.99)),
  ttft_error_p50_ms: round3(quantile(all.ttftVsSent, 0.5)),
  ttft_error_p99_ms: round3(quantile(all.ttftVsSent, 0.99)),
  vs_injected: {
    ttft_error_p50_ms: round3(quantile(all.ttftVsInjected, 0.5)),
    ttft_error_p99_ms: round3(quantile(all.ttftVsInjected, 0.99)),
    gap_error_p50_ms: round3(quantile(all.gapVsInjected, 0.5)),
    gap_error_p99_ms: round3(quantile(all.gapVsInjected, 0.99)),
  },
  // Other processes on the machine delay the event loop, and with it every timestamp.
  machine: { cpus: cpus().length, load_average_1m: Number(loadavg()[0].toFixed(2)) },
  event_loop_delay_p50_ms: round3(loopDelay.percentile(50) / 1e6),
  event_loop_delay_p99_ms: round3(loopDelay.percentile(99) / 1e6),
  event_loop_delay_max_ms: round3(loopDelay.max / 1e6),
  by_transport: report,
  target: { error_p99_ms_max: 1 },
};

console.log(`fidelity: ${spans.length} responses, ${all.tokenVsSent.length} tokens`);
console.log(`  main-thread event loop delay p50 ${result.event_loop_delay_p50_ms} ms  p99 ${result.event_loop_delay_p99_ms} ms  max ${result.event_loop_delay_max_ms} ms`);
for (const [transport, errors] of Object.entries(report)) {
  for (const [name, s] of Object.entries(errors)) console.log(`  ${transport.padEnd(9)} ${name.padEnd(15)} p50 ${s.p50_ms} ms  p99 ${s.p99_ms} ms  max ${s.max_ms} ms  (n=${s.n})`);
}
console.log(JSON.stringify(result));
