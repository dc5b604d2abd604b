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
 * the metrics SDK, and with the SDK and `timePerOutputChunkMetric` off. A third streams the
 * same responses at the sizes real traffic has around the deltas: each request carries a
 * ~20 KB conversation, and `response.created` / `response.completed` echo ~8 KB of
 * instructions, five tools and (completed) the output, as the Responses API does.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';
import { openaiResponsesParser } from '../../instrumentation/src/parsers/openai-responses.ts';
import { median, modeSwitch, rotatedMedians, type Mode } from './modes';

const MESSAGES_PER_ROUND = Number(process.env.MESSAGES_PER_ROUND ?? 100_000);
const ROUNDS_PER_MODE = Number(process.env.ROUNDS ?? 8);
const EMIT_LOOP_MESSAGES = 1_000_000;
const CHAT_RESPONSE_MESSAGES = 200;
/** The full-size workload's conversation so far, sent with every request. */
const CONVERSATION = Array.from({ length: 24 }, (_, i) => ({
  type: 'message',
  role: i % 2 ? 'assistant' : 'user',
  content: `Turn ${i}: a paragraph of ordinary prose about the task at hand, with "quoted" words, some figures (12.5 %, 3,400) and a question or two? `.repeat(6),
}));

const SERVER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { WebSocketServer } = require(${JSON.stringify(createRequire(import.meta.url).resolve('ws'))});
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
wss.on('listening', () => parentPort.postMessage(wss.address().port));
const INSTRUCTIONS = 'You are a careful assistant. Answer briefly, cite the "source" when asked. '.repeat(110);
const TOOLS = Array.from({ length: 5 }, (_, k) => ({ type: 'function', name: 'tool_' + k, description: 'Looks up one kind of record by its key.', strict: true,
  parameters: { type: 'object', properties: { key: { type: 'string', description: 'the record key' }, limit: { type: 'integer', minimum: 1 }, fields: { type: 'array', items: { type: 'string', enum: ['id', 'name', 'created', 'owner'] } } }, required: ['key', 'limit', 'fields'], additionalProperties: false } }));
// The Responses API's field order: what a full-size event echoes sits between the head and the usage.
const responseObject = (id, status, full, output, usage) => full
  ? { id, object: 'response', created_at: 1760000000, status, error: null, incomplete_details: null, instructions: INSTRUCTIONS, model: 'bench-model', output, parallel_tool_calls: true, temperature: 1, tool_choice: 'auto', tools: TOOLS, top_p: 1, usage }
  : { id, model: 'bench-model', status, usage };
wss.on('connection', (ws) => ws.on('message', (data) => {
  const { count, input } = JSON.parse(String(data));
  const full = input !== undefined;
  const id = 'resp_' + Math.random().toString(36).slice(2);
  ws.send(JSON.stringify({ type: 'response.created', response: responseObject(id, 'in_progress', full, [], null) }));
  let i = 0;
  const pump = () => {
    // Yield whenever the socket buffer is full, so memory stays flat and the client sets the pace.
    while (i < count && ws.bufferedAmount < 1 << 20) {
      ws.send('{"type":"response.output_text.delta","sequence_number":' + i + ',"item_id":"msg_' + id + '","output_index":0,"content_index":0,"delta":" tok","logprobs":[]}');
      i++;
    }
    if (i < count) return setImmediate(pump);
    const output = [{ type: 'message', id: 'msg_' + id, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: ' tok'.repeat(count), annotations: [] }] }];
    ws.send(JSON.stringify({ type: 'response.completed', response: responseObject(id, 'completed', full, output, { input_tokens: 5, output_tokens: count }) }));
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
/** The last full-size created and completed events received: what the parse comparison reads. */
const fullSizeEvents = new Map<'created' | 'completed', Buffer>();

/** The client's `response.create`; `fullSize`: carrying the conversation, as real requests do. */
function createRequest(perResponse: number, fullSize: boolean): string {
  return JSON.stringify({ type: 'response.create', model: 'bench-model', count: perResponse, input: fullSize ? CONVERSATION : undefined });
}

/**
 * `MESSAGES_PER_ROUND` deltas on one socket, in responses of `perResponse` requested one
 * after another; `fullSize`: requests and control events at the sizes of real traffic.
 */
async function round(mode: Mode, perResponse = MESSAGES_PER_ROUND, fullSize = false): Promise<Round> {
  modes.apply(mode);
  const request = createRequest(perResponse, fullSize);
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  let received = 0;
  const done = new Promise<void>((resolve) =>
    ws.on('message', (data: Buffer) => {
      received++;
      // The application's own work: look at the type, as any client must.
      const completed = data.includes('response.completed');
      if (fullSize && data.length > 4096) fullSizeEvents.set(completed ? 'completed' : 'created', data);
      if (!completed) return;
      if (received < MESSAGES_PER_ROUND) ws.send(request);
      else resolve();
    }),
  );
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  ws.send(request);
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

/**
 * CPU per full-size response of what the instrumentation reads from its request and
 * control events, against JSON.parse of the same texts (what reading them cost before
 * they were walked for their members, and what the client pays for them itself).
 */
function fullSizeParse(): { membersUs: number; jsonParseUs: number } {
  const texts = [
    createRequest(CHAT_RESPONSE_MESSAGES, true),
    String(fullSizeEvents.get('created')),
    String(fullSizeEvents.get('completed')),
  ];
  const [request, created, completed] = texts;
  const iterations = 2_000;
  let sink = 0;
  const time = (read: () => void): number => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) read();
    return Number(process.hrtime.bigint() - started) / iterations / 1000;
  };
  const members = () => {
    sink += openaiResponsesParser.parseRequest(request, false)?.model?.length ?? 0;
    sink += openaiResponsesParser.parseControl(created)?.model?.length ?? 0;
    sink += openaiResponsesParser.parseControl(completed)?.outputTokens ?? 0;
  };
  const jsonParse = () => {
    for (const text of texts) sink += Object.keys(JSON.parse(text) as object).length;
  };
  const membersUs: number[] = [];
  const jsonParseUs: number[] = [];
  for (let i = 0; i < 6; i++) {
    membersUs.push(time(members));
    jsonParseUs.push(time(jsonParse));
  }
  if (sink < 0) throw new Error('unreachable');
  // The first run of each warms up the JIT.
  return { membersUs: median(membersUs.slice(1)), jsonParseUs: median(jsonParseUs.slice(1)) };
}

/** Same live socket, same frames, emitted straight into the wrapped and the original `emit`. */
async function emitLoop(): Promise<{ onNs: number; offNs: number }> {
  instrumentation.enable();
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  let sink = 0;
  ws.on('message', (data: Buffer) => (sink += data.length));
  ws.send(createRequest(0, false));
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
const [fullOff, fullOn] = await rotatedMedians(ROUNDS_PER_MODE, async (mode) => (await round(mode, CHAT_RESPONSE_MESSAGES, true)).busyNsPerMessage, ['off', 'on']);
modes.reset();

const loop = await emitLoop();
const parse = fullSizeParse();
await worker.terminate();

const pick = (instrumented: boolean, key: 'messagesPerSecond' | 'busyNsPerMessage') =>
  median(rounds.filter((r) => r.instrumented === instrumented).map((r) => r[key]));
const offRate = pick(false, 'messagesPerSecond');
const onRate = pick(true, 'messagesPerSecond');
const offBusy = pick(false, 'busyNsPerMessage');
const onBusy = pick(true, 'busyNsPerMessage');
const result = {
  bench: 'instrumentation-overhead',
  workload: `ws client on loopback, server in a worker thread streaming ${MESSAGES_PER_ROUND} Responses API delta frames (~150 B) per round, as one response and as ${CHAT_RESPONSE_MESSAGES}-delta responses one after another (off, on, on with a metrics SDK meter provider, the same with timePerOutputChunkMetric off), and those at full size (off, on: each request carries a conversation, response.created/completed echo instructions, 5 tools and the output); ${ROUNDS_PER_MODE} rounds per mode, interleaved, medians; plus ${EMIT_LOOP_MESSAGES} frames emitted straight into one live socket, 5 interleaved runs per mode; plus the full-size request and created/completed events read by the instrumentation's parser and by JSON.parse, 2000 times, 5 interleaved runs each`,
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
  full_size: {
    messages_per_response: CHAT_RESPONSE_MESSAGES,
    request_bytes: Buffer.byteLength(createRequest(CHAT_RESPONSE_MESSAGES, true)),
    created_event_bytes: fullSizeEvents.get('created')?.length,
    completed_event_bytes: fullSizeEvents.get('completed')?.length,
    busy_ns_per_message_without: Math.round(fullOff),
    added_ns_per_message: Math.round(fullOn - fullOff),
    request_and_control_read_us_per_response: Number(parse.membersUs.toFixed(1)),
    same_by_json_parse_us_per_response: Number(parse.jsonParseUs.toFixed(1)),
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
const f = result.full_size;
console.log(`  the same at full size (${f.request_bytes} B requests, ${f.created_event_bytes} / ${f.completed_event_bytes} B created / completed events): busy/message without ${f.busy_ns_per_message_without} ns; added ${f.added_ns_per_message} ns`);
console.log(`  reading a full-size response's request and control events: ${f.request_and_control_read_us_per_response} µs (JSON.parse of them: ${f.same_by_json_parse_us_per_response} µs)`);
console.log(JSON.stringify(result));
