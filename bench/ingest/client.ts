/*
 * The load client, run as a child process so that producing load does not share the
 * collector's event loop. Driven over IPC by bench/ingest/index.ts (see ClientCommand).
 *
 *   replay:   `concurrency` requests in flight, each a captured exporter body with fresh
 *             ids and times, round robin over the collectors given, some sent twice;
 *             records each request's ack latency (sent → 200 received).
 *   exporter: `concurrency` application-like SDK pipelines (BatchSpanProcessor + official
 *             OTLP protobuf exporter), each emitting 512 spans and flushing, in a loop.
 */
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { emitResponse, sdkPipeline } from '../support/otlp';
import { SERVICES } from '../support/workload';
import { captureTemplates, templateRows, type ClientCommand, type ClientMessage } from './load';

const send = (message: ClientMessage) => process.send!(message);

function post(agent: Agent, url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/traces`, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs `worker` on `concurrency` lanes through warm-up and the measured window. */
async function drive(command: ClientCommand, worker: (lane: number, measuring: () => boolean) => Promise<void>): Promise<void> {
  let measuring = false;
  let stopped = false;
  const lanes = Array.from({ length: command.concurrency }, async (_, lane) => {
    while (!stopped) await worker(lane, () => measuring);
  });
  await sleep(command.warmupSeconds * 1000);
  measuring = true;
  send({ type: 'measuring' });
  await sleep(command.seconds * 1000);
  measuring = false;
  stopped = true;
  await Promise.all(lanes);
}

async function replay(command: Extract<ClientCommand, { mode: 'replay' }>): Promise<void> {
  const templates = await captureTemplates();
  const agent = new Agent({ keepAlive: true, maxSockets: command.concurrency });
  const latenciesMs: number[] = [];
  const urls = [command.url, ...(command.otherUrls ?? [])];
  let next = 0;
  let requests = 0;
  let failures = 0;
  let acknowledged = 0;
  send({ type: 'ready' });
  await drive(command, async (_lane, measuring) => {
    const n = next++;
    const body = templates[n % templates.length].render(command.run, n, Date.now());
    const started = performance.now();
    const status = await post(agent, urls[n % urls.length], body).catch(() => 0);
    if (status === 200) acknowledged += 1;
    if (command.duplicateEvery && n % command.duplicateEvery === 0) await post(agent, urls[(n + 1) % urls.length], body).catch(() => 0);
    if (!measuring()) return;
    requests += 1;
    if (status !== 200) failures += 1;
    else latenciesMs.push(performance.now() - started);
  });
  agent.destroy();
  const spans = templates[0].spanCount;
  send({ type: 'done', requests, failures, latenciesMs, bytesPerRequest: templates[0].byteLength, spansEmitted: requests * spans, spansSent: next * spans, spansAcknowledged: acknowledged * spans });
}

async function exporter(command: Extract<ClientCommand, { mode: 'exporter' }>): Promise<void> {
  const pipelines = Array.from({ length: command.concurrency }, (_, lane) => ({
    ...sdkPipeline(command.url, SERVICES[lane % SERVICES.length], 100 + lane),
    rows: templateRows(lane),
  }));
  const flushMs: number[] = [];
  let spansEmitted = 0;
  let flushes = 0;
  send({ type: 'ready' });
  await drive(command, async (lane, measuring) => {
    const { tracer, provider, rows } = pipelines[lane];
    const startNs = BigInt(Date.now()) * 1_000_000n;
    rows.forEach((row, i) => emitResponse(tracer, row, startNs + BigInt(i) * 1000n));
    const started = performance.now();
    await provider.forceFlush();
    if (!measuring()) return;
    flushes += 1;
    spansEmitted += rows.length;
    flushMs.push(performance.now() - started);
  });
  await Promise.all(pipelines.map((p) => p.provider.shutdown()));
  send({ type: 'done', requests: flushes, failures: 0, latenciesMs: flushMs, bytesPerRequest: 0, spansEmitted, spansSent: spansEmitted, spansAcknowledged: spansEmitted });
}

process.once('message', (command: ClientCommand) => {
  const run = command.mode === 'replay' ? replay(command) : exporter(command);
  run.then(() => process.disconnect(), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
