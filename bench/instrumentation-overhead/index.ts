/*
 * Cost of the instrumentation on the WebSocket hot path.
 *
 * A server in a worker thread streams Responses API delta frames over `ws` as fast as it
 * can; the client (main thread) counts them. Rounds alternate instrumentation off / on in
 * the same run. Reported: client messages/s, main-thread busy time per message (event loop
 * utilisation, so the server thread does not count) and, isolated from the network, the
 * added cost of the wrapped `emit` on one live socket.
 *
 * One long response per round measures the per-message path alone. A second workload
 * streams chat-sized responses (CHAT_RESPONSE_MESSAGES deltas, the next requested when one
 * completes, on one socket), so each message also carries its share of the per-response
 * work — the span and the metrics — with no meter provider (the API's no-op metrics), with
 * the metrics SDK, and with the SDK and `timePerOutputChunkMetric` off.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';
import { median, modeSwitch, rotatedMedians, type Mode } from './modes';

const MESSAGES_PER_ROUND = Number(process.env.MESSAGES_PER_ROUND ?? 100_000);
const ROUNDS_PER_MODE = Number(process.env.ROUNDS ?? 8);
const EMIT_LOOP_MESSAGES = 1_000_000;
const CHAT_RESPONSE_MESSAGES = 200;

const SERVER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { WebSocketServer } = require(${JSON.stringify(createRequire(import.meta.url).resolve('ws'))});
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
wss.on('listening', () => parentPort.postMessage(wss.address().port));
wss.on('connection', (ws) => ws.on('message', (data) => {
  const { count } = JSON.parse(String(data));
  const id = 'resp_' + Math.random().toString(36).slice(2);
  ws.send(JSON.stringify({ type: 'response.created', response: { id, model: 'bench-model', status: 'in_progress' } }));
  let i = 0;
  const pump = () => {
    // Yield whenever the socket buffer is full, so memory stays flat and the client sets the pace.
    while (i < count && ws.bufferedAmount < 1 << 20) {
      ws.send('{"type":"response.output_text.delta","sequence_number":' + i + ',"item_id":"msg_' + id + '","output_index":0,"content_index":0,"delta":" tok","logprobs":[]}');
      i++;
    }
    if (i < count) return setImmediate(pump);
    ws.send(JSON.stringify({ type: 'response.completed', response: { id, model: 'bench-model', status: 'completed', usage: { input_tokens: 5, output_tokens: count } } }));
  };
  pump();
}));
`;

const exporter = new InMemorySpanExporter();
const instrumentation = new StreamscopeInstrumentation();
instrumentation.setTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
// Loaded through require after the instrumentation exists, so its hook patches the prototype.
const { default: WebSocket } = (await import('ws')) as { default: typeof import('ws').default };
createRequire(import.meta.url)('ws');

const worker = new Worker(SERVER_SOURCE, { eval: true });
const [port] = (await once(worker, 'message')) as [number];
const url = `ws://127.0.0.1:${port}/v1/responses`;

interface Round {
  instrumented: boolean;
  messagesPerSecond: number;
  busyNsPerMessage: number;
}

const modes = modeSwitch(instrumentation);
let spansRecorded = 0;

/** `MESSAGES_PER_ROUND` deltas on one socket, in responses of `perResponse` requested one after another. */
async function round(mode: Mode, perResponse = MESSAGES_PER_ROUND): Promise<Round> {
  modes.apply(mode);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  let received = 0;
  const done = new Promise<void>((resolve) =>
    ws.on('message', (data: Buffer) => {
      received++;
      // The application's own work: look at the type, as any client must.
      if (!data.includes('response.completed')) return;
      if (received < MESSAGES_PER_ROUND) ws.send(JSON.stringify({ type: 'response.create', model: 'bench-model', count: perResponse }));
      else resolve();
    }),
  );
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  ws.send(JSON.stringify({ type: 'response.create', model: 'bench-model', count: perResponse }));
  await done;
  await modes.collect();
  const elapsedMs = performance.now() - started;
  const busyMs = performance.eventLoopUtilization(elu).active;
  ws.close();
  await once(ws, 'close');
  spansRecorded += exporter.getFinishedSpans().length;
  exporter.reset();
  return { instrumented: mode !== 'off', messagesPerSecond: (received / elapsedMs) * 1000, busyNsPerMessage: (busyMs * 1e6) / received };
}

/** Same live socket, same frames, emitted straight into the wrapped and the original `emit`. */
async function emitLoop(): Promise<{ onNs: number; offNs: number }> {
  instrumentation.enable();
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  let sink = 0;
  ws.on('message', (data: Buffer) => (sink += data.length));
  ws.send(JSON.stringify({ type: 'response.create', model: 'bench-model', count: 0 }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const frame = Buffer.from('{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_x","output_index":0,"content_index":0,"delta":" tok","logprobs":[]}');
  const measure = (): number => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < EMIT_LOOP_MESSAGES; i++) ws.emit('message', frame, false);
    return Number(process.hrtime.bigint() - started) / EMIT_LOOP_MESSAGES;
  };
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < 5; i++) {
    instrumentation.enable();
    on.push(measure());
    instrumentation.disable();
    off.push(measure());
  }
  instrumentation.enable();
  ws.terminate();
  if (sink < 0) throw new Error('unreachable');
  return { onNs: median(on), offNs: median(off) };
}

const rounds: Round[] = [];
await round('off'); // warm-up: JIT, connection code paths
await round('on');
for (let i = 0; i < ROUNDS_PER_MODE; i++) {
  // Alternate which mode goes first, so drift (thermal, GC) lands on both.
  const order: Mode[] = i % 2 ? ['on', 'off'] : ['off', 'on'];
  for (const mode of order) rounds.push(await round(mode));
}

const [chatOff, chatOn, chatMetrics, chatMetricsNoChunks] = await rotatedMedians(ROUNDS_PER_MODE, async (mode) => (await round(mode, CHAT_RESPONSE_MESSAGES)).busyNsPerMessage);
modes.reset();

const loop = await emitLoop();
await worker.terminate();

const pick = (instrumented: boolean, key: 'messagesPerSecond' | 'busyNsPerMessage') =>
  median(rounds.filter((r) => r.instrumented === instrumented).map((r) => r[key]));
const offRate = pick(false, 'messagesPerSecond');
const onRate = pick(true, 'messagesPerSecond');
const offBusy = pick(false, 'busyNsPerMessage');
const onBusy = pick(true, 'busyNsPerMessage');
const result = {
  bench: 'instrumentation-overhead',
  workload: `ws client on loopback, server in a worker thread streaming ${MESSAGES_PER_ROUND} Responses API delta frames (~150 B) per round, as one response and as ${CHAT_RESPONSE_MESSAGES}-delta responses one after another (off, on, on with a metrics SDK meter provider, the same with timePerOutputChunkMetric off); ${ROUNDS_PER_MODE} rounds per mode, interleaved, medians; plus ${EMIT_LOOP_MESSAGES} frames emitted straight into one live socket, 5 interleaved runs per mode`,
  messages_per_second_without: Math.round(offRate),
  messages_per_second_with: Math.round(onRate),
  throughput_loss_percent: Number((((offRate - onRate) / offRate) * 100).toFixed(2)),
  busy_ns_per_message_without: Math.round(offBusy),
  busy_ns_per_message_with: Math.round(onBusy),
  added_ns_per_message: Math.round(onBusy - offBusy),
  emit_ns_per_message_without: Number(loop.offNs.toFixed(1)),
  emit_ns_per_message_with: Number(loop.onNs.toFixed(1)),
  emit_added_ns_per_message: Number((loop.onNs - loop.offNs).toFixed(1)),
  chat_sized: {
    messages_per_response: CHAT_RESPONSE_MESSAGES,
    busy_ns_per_message_without: Math.round(chatOff),
    added_ns_per_message: Math.round(chatOn - chatOff),
    added_ns_per_message_with_meter_provider: Math.round(chatMetrics - chatOff),
    added_ns_per_message_with_meter_provider_no_per_chunk_metric: Math.round(chatMetricsNoChunks - chatOff),
  },
  // Other processes on the machine delay the event loop, and with it every timestamp.
  machine: { cpus: cpus().length, load_average_1m: Number(loadavg()[0].toFixed(2)) },
  spans_recorded: spansRecorded,
  targets: { added_ns_per_message_max: 1000, throughput_loss_percent_max: 3 },
};

console.log('instrumentation overhead on the ws hot path');
console.log(`  throughput   without ${result.messages_per_second_without} msg/s   with ${result.messages_per_second_with} msg/s   loss ${result.throughput_loss_percent} %`);
console.log(`  busy/message without ${result.busy_ns_per_message_without} ns   with ${result.busy_ns_per_message_with} ns   added ${result.added_ns_per_message} ns`);
console.log(`  emit loop    without ${result.emit_ns_per_message_without} ns   with ${result.emit_ns_per_message_with} ns   added ${result.emit_added_ns_per_message} ns`);
const c = result.chat_sized;
console.log(`  ${c.messages_per_response}-delta responses: busy/message without ${c.busy_ns_per_message_without} ns; added ${c.added_ns_per_message} ns, with a meter provider ${c.added_ns_per_message_with_meter_provider} ns (${c.added_ns_per_message_with_meter_provider_no_per_chunk_metric} ns without the per-chunk metric)`);
console.log(JSON.stringify(result));
