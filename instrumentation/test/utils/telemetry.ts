import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR_KIND, KIND } from '../../src/contract.ts';
import { StreamscopeInstrumentation } from '../../src/index.ts';
import type { StreamscopeInstrumentationConfig } from '../../src/types.ts';
import { MockModelServer } from './mock-model-server.ts';

export interface TestTelemetry {
  instrumentation: StreamscopeInstrumentation;
  /** The instrumentation's tracer provider, to put back after a test that sets another. */
  provider: BasicTracerProvider;
  exporter: InMemorySpanExporter;
  responses(): ReadableSpan[];
  connections(): ReadableSpan[];
}

/**
 * An enabled instrumentation exporting to memory. `ws` is required once afterwards so the
 * require hook patches it; ESM imports of `ws` share the same prototype.
 */
export function setupTelemetry(config: StreamscopeInstrumentationConfig = {}): TestTelemetry {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const instrumentation = new StreamscopeInstrumentation(config);
  instrumentation.setTracerProvider(provider);
  createRequire(import.meta.url)('ws');
  const ofKind = (kind: string) => () => exporter.getFinishedSpans().filter((s) => s.attributes[ATTR_KIND] === kind);
  return { instrumentation, provider, exporter, responses: ofKind(KIND.RESPONSE), connections: ofKind(KIND.CONNECTION) };
}

/** Polls until `check` holds; spans end on events that can trail the application's last read. */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface TestSuite {
  telemetry: TestTelemetry;
  /** The suite's mock server, listening from `before` until `after`. */
  readonly server: MockModelServer;
}

/** Instrumentation enabled now, a mock model server for the suite, both torn down after it. */
export function setupSuite(config: StreamscopeInstrumentationConfig = {}): TestSuite {
  const telemetry = setupTelemetry(config);
  let server: MockModelServer | undefined;
  before(async () => {
    server = await new MockModelServer().listen();
  });
  after(async () => {
    telemetry.instrumentation.disable();
    await server?.close();
  });
  return {
    telemetry,
    get server() {
      if (!server) throw new Error('the mock server starts in before()');
      return server;
    },
  };
}
