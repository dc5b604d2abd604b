/*
 * One bench/peers run in a process of its own: switch on one mode's instrumentation, stream
 * the workload with the official `openai` client, report to the parent over IPC.
 *
 *   fork('bench/peers/worker.ts', [], { execArgv: ['--import', 'tsx'] }) then send a WorkerTask
 *
 * Two phases against two mocks with the same schedule shape: paced (the schedule's gaps,
 * the client never saturated) for TTFT fidelity, then burst (tokens as fast as the mock
 * writes them, the client saturated) for cost: CPU is this process's (every thread) from
 * the first burst request to the end of the span export that follows, so each package's
 * recording and exporting are both charged.
 */
import { performance } from 'node:perf_hooks';
import { instrument, type Mode } from './setup';

export interface WorkerTask {
  mode: Mode;
  /** Base URLs of the two mocks, for the client. */
  pacedUrl: string;
  burstUrl: string;
  /** Where spans go (OTLP/HTTP base URL). */
  otlpUrl: string;
  /** resource service.name, so the parent can tell this run's spans apart. */
  service: string;
  model: string;
  warmupResponses: number;
  pacedResponses: number;
  burstResponses: number;
  concurrency: number;
  /** Responses streamed over the Responses WebSocket after the measured part, to see which modes record them. */
  websocketResponses: number;
}

export interface WorkerResult {
  mode: Mode;
  /** Burst phase: chunks the application read, and the wall time of the streaming alone. */
  chunks: number;
  streamingMs: number;
  /** Burst phase: user + system CPU over the streaming and the export that follows. */
  cpuUs: number;
  /** Paced phase: chat completion id → TTFT as the application saw it (call to first content chunk), ms. */
  pacedTtftMs: Record<string, number>;
  failures: number;
  /** SSE responses streamed in all, to tell the WebSocket ones apart. */
  sseResponses: number;
}

async function run(task: WorkerTask): Promise<WorkerResult> {
  const instrumented = await instrument(task.mode, task.otlpUrl, task.service);
  // After the instrumentation exists, so the `ws` the official client loads is the patched one.
  const { openResponsesSocket, streamOverWebSocket } = await import('../../demo/load-generator/websocket-stream');
  const paced = new instrumented.OpenAI({ baseURL: task.pacedUrl, apiKey: 'bench', maxRetries: 0 });
  const burst = new instrumented.OpenAI({ baseURL: task.burstUrl, apiKey: 'bench', maxRetries: 0 });
  let failures = 0;

  const streamOne = async (client: typeof paced): Promise<{ id: string; chunks: number; ttftMs: number }> => {
    const calledAt = performance.now();
    const stream = await client.chat.completions.create({
      model: task.model,
      messages: [{ role: 'user', content: 'Tell me about streaming latency.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let id = '';
    let chunks = 0;
    let ttftMs = Number.NaN;
    for await (const chunk of stream) {
      id = chunk.id;
      chunks++;
      if (Number.isNaN(ttftMs) && chunk.choices[0]?.delta.content) ttftMs = performance.now() - calledAt;
    }
    return { id, chunks, ttftMs };
  };
  const streamMany = async (client: typeof paced, count: number) => {
    const done: Awaited<ReturnType<typeof streamOne>>[] = [];
    let next = 0;
    const lane = async () => {
      while (next < count) {
        next++;
        try {
          done.push(await streamOne(client));
        } catch {
          failures++;
        }
      }
    };
    await Promise.all(Array.from({ length: task.concurrency }, lane));
    return done;
  };

  // Both mocks warmed, so neither phase pays for opening its connections (or for the JIT).
  await streamMany(burst, task.warmupResponses);
  await streamMany(paced, task.concurrency);
  const pacedDone = await streamMany(paced, task.pacedResponses);
  await instrumented.flush();

  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const burstDone = await streamMany(burst, task.burstResponses);
  const streamingMs = performance.now() - startedAt;
  await instrumented.flush();
  const cpu = process.cpuUsage(cpuBefore);

  const socket = await openResponsesSocket(paced);
  for (let i = 0; i < task.websocketResponses; i++) await streamOverWebSocket(socket, { model: task.model, input: 'hello' });
  // Connection spans end when their connection does.
  const closed = new Promise((resolve) => socket.socket.once('close', resolve));
  socket.close();
  await closed;
  await instrumented.shutdown();

  return {
    mode: task.mode,
    chunks: burstDone.reduce((sum, r) => sum + r.chunks, 0),
    streamingMs,
    cpuUs: cpu.user + cpu.system,
    pacedTtftMs: Object.fromEntries(pacedDone.map((r) => [r.id, r.ttftMs])),
    failures,
    sseResponses: task.warmupResponses + task.concurrency + task.pacedResponses + task.burstResponses,
  };
}

process.once('message', (task: WorkerTask) => {
  run(task).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});
