/*
 * An instrumented application whose collector is down (nothing listens on the port) or
 * hung (accepts connections, never answers): its streams are unaffected — every response
 * arrives whole — and its telemetry memory stays bounded by the BatchSpanProcessor's
 * maxQueueSize, the excess dropped rather than held.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';
import { ATTR_KIND, KIND } from '@streamscope/instrumentation/contract';
import { freePort } from './support/collector-process';

const STREAMS = 2000;
const WARM_UP_STREAMS = 100;
const CONCURRENCY = 25;
const MAX_QUEUE_SIZE = 256;
const CHUNKS = 10;
/** Past this, heap growth means telemetry is being held rather than dropped. */
const MAX_HEAP_GROWTH_BYTES = 16 * 1024 * 1024;

const chunk = (i: number) => `data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"tok${i} "}}]}\n\n`;
const EXPECTED = Array.from({ length: CHUNKS }, (_, i) => chunk(i)).join('') + 'data: [DONE]\n\n';

/** A Chat Completions SSE endpoint streaming CHUNKS chunks as fast as they are read. */
async function startModelServer(): Promise<{ url: string; server: Server }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    let i = 0;
    const next = () => {
      if (i < CHUNKS) {
        res.write(chunk(i++));
        setImmediate(next);
      } else res.end('data: [DONE]\n\n');
    };
    next();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/chat/completions`, server };
}

/** A "collector" that accepts connections and never says a word. */
async function startBlackHole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Counts the spans the instrumentation ended, so the test knows it was on. */
class SpanCounter implements SpanProcessor {
  ended = 0;
  responses = 0;
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.ended += 1;
    if (span.attributes[ATTR_KIND] === KIND.RESPONSE) this.responses += 1;
  }
  forceFlush = () => Promise.resolve();
  shutdown = () => Promise.resolve();
}

/** What a BatchSpanProcessor holds; private in the SDK, read here to prove the bound. */
const queued = (processor: BatchSpanProcessor) => (processor as unknown as { _finishedSpans: unknown[] })._finishedSpans.length;

/** The official exporter, counting the spans handed to it. */
class CountingExporter implements SpanExporter {
  handed = 0;
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.handed += spans.length;
    this.inner.export(spans, done);
  }
  shutdown = () => this.inner.shutdown();
}

let model: Awaited<ReturnType<typeof startModelServer>>;
const instrumentation = new StreamscopeInstrumentation();

before(async () => {
  model = await startModelServer();
});

after(async () => {
  instrumentation.disable();
  await new Promise((resolve) => model.server.close(resolve));
});

async function runStreams(processor: BatchSpanProcessor, streams: number): Promise<{ wrong: number; maxQueued: number }> {
  let wrong = 0;
  let maxQueued = 0;
  let next = 0;
  const worker = async () => {
    while (next < streams) {
      next += 1;
      const res = await fetch(model.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"model":"m","stream":true}' });
      if ((await res.text()) !== EXPECTED) wrong += 1;
      maxQueued = Math.max(maxQueued, queued(processor));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { wrong, maxQueued };
}

// A refused connection fails an export at once, so the queue may keep up and drop nothing;
// a collector that never answers holds each export for its timeout, and the queue must drop.
for (const [name, collector, mustDrop] of [
  ['down (connection refused)', async () => ({ url: `http://127.0.0.1:${await freePort()}/v1/traces`, close: async () => {} }), false],
  ['hung (never answers)', startBlackHole, true],
] as const) {
  test(`collector ${name}: ${STREAMS} streams arrive whole, the span queue stays at maxQueueSize, memory bounded`, async () => {
    const sink = await collector();
    const counter = new SpanCounter();
    const exporter = new CountingExporter(new OTLPTraceExporter({ url: sink.url, timeoutMillis: 1000 }));
    const processor = new BatchSpanProcessor(exporter, {
      maxQueueSize: MAX_QUEUE_SIZE,
      // A hung collector then drains at most 8 spans per second (one batch per 1 s timeout):
      // far slower than the streams end, however slowly a loaded machine runs them.
      maxExportBatchSize: 8,
      scheduledDelayMillis: 50,
      exportTimeoutMillis: 2000,
    });
    const provider = new BasicTracerProvider({ spanProcessors: [counter, processor] });
    instrumentation.setTracerProvider(provider);
    instrumentation.enable();
    try {
      await runStreams(processor, WARM_UP_STREAMS); // connection pools, JIT, the exporter's first failures
      const heapBefore = heapAfterGc();
      const { wrong, maxQueued } = await runStreams(processor, STREAMS);
      const heapGrowth = heapAfterGc() - heapBefore;
      const dropped = counter.ended - exporter.handed - queued(processor);
      console.log(JSON.stringify({ test: 'instrumented-app', collector: name, streams: STREAMS, wrong, spansEnded: counter.ended,
        handedToExporter: exporter.handed, maxQueued, dropped, heapGrowthBytes: heapGrowth }));
      assert.equal(wrong, 0, 'every stream arrived whole');
      assert.equal(counter.responses, WARM_UP_STREAMS + STREAMS, 'the instrumentation measured every stream');
      assert.ok(maxQueued <= MAX_QUEUE_SIZE);
      if (mustDrop) assert.ok(dropped > 0, 'spans were dropped, not held');
      assert.ok(heapGrowth < MAX_HEAP_GROWTH_BYTES, `heap grew by ${heapGrowth} bytes`);
    } finally {
      instrumentation.disable();
      // Closed first, the sink refuses the final flush at once instead of holding each batch
      // for its timeout; the flush fails, as it should with no collector.
      await sink.close();
      await provider.shutdown().catch(() => undefined);
    }
  });
}
