import { createRequire } from 'node:module';
import { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ATTR_KIND, KIND } from '../../src/contract.ts';
import { StreamscopeInstrumentation } from '../../src/index.ts';
import type { StreamscopeInstrumentationConfig } from '../../src/types.ts';

export interface TestTelemetry {
  instrumentation: StreamscopeInstrumentation;
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
  return { instrumentation, exporter, responses: ofKind(KIND.RESPONSE), connections: ofKind(KIND.CONNECTION) };
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
