/*
 * How each instrumentation is switched on around the official `openai` client, exactly as
 * its documentation tells a user to, so the tests and the benchmark measure the real thing.
 *
 * The three peer packages patch `openai`'s prototypes through require hooks that only fire
 * for CommonJS loads after they are registered, and OpenLLMetry's hook refuses openai 7
 * (it declares ">=4 <7"); each documents a manual call for that case, used here. Our own
 * instrumentation needs no hook: it observes `fetch` through undici's diagnostics channels.
 *
 * Only one mode per process: the packages register global providers and patch shared
 * prototypes, which is why bench/peers runs every mode in its own child process and each
 * test file under test/peers covers one package.
 */
import * as openaiModule from 'openai';
import { metrics, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Instrumentation } from '@opentelemetry/instrumentation';

export const PEERS = ['openllmetry', 'openinference', 'openlit'] as const;
export type Peer = (typeof PEERS)[number];
/**
 * `sdk`: the OpenTelemetry SDK every other mode starts (a registered tracer provider with
 * its AsyncLocalStorage context manager and the OTLP exporter, one span exported) and no
 * instrumentation, so what each package adds on top of it can be told from what the SDK
 * costs on its own.
 */
export const MODES = ['none', 'sdk', 'streamscope', ...PEERS] as const;
export type Mode = (typeof MODES)[number];

export const PACKAGE_OF: Record<Exclude<Mode, 'none'>, string> = {
  sdk: '@opentelemetry/sdk-trace-node alone',
  streamscope: '@streamscope/instrumentation',
  openllmetry: '@traceloop/instrumentation-openai',
  openinference: '@arizeai/openinference-instrumentation-openai',
  openlit: 'openlit',
};

export interface Instrumented {
  /** The `openai` client class, patched (or not, for mode `none`). */
  OpenAI: typeof openaiModule.OpenAI;
  /** Exports what is buffered; resolves once the receiver answered. */
  flush(): Promise<void>;
  /** Flushes, then stops the providers. */
  shutdown(): Promise<void>;
}

interface Shutdownable {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Turns on `mode`'s instrumentation, exporting to the OTLP/HTTP receiver at `otlpUrl`
 * (e.g. http://127.0.0.1:4318) under `serviceName`.
 */
export async function instrument(mode: Mode, otlpUrl: string, serviceName: string): Promise<Instrumented> {
  if (mode === 'none') return { OpenAI: openaiModule.OpenAI, flush: async () => {}, shutdown: async () => {} };
  if (mode === 'openlit') return instrumentOpenlit(otlpUrl, serviceName);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlpUrl}/v1/traces` }))],
  });
  // A registered provider gives the packages' spans the async-hooks context manager they expect.
  provider.register();
  if (mode === 'sdk') {
    // One span exported, as in any instrumented app: the export runs in a context of its own,
    // which switches on the context manager's promise hook — from then on every promise in
    // the process pays for it, instrumentation or not.
    trace.getTracer('bench').startSpan('sdk started').end();
    await provider.forceFlush();
    return { OpenAI: openaiModule.OpenAI, flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
  }
  const instrumentation = await createInstrumentation(mode);
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  return {
    OpenAI: openaiModule.OpenAI,
    flush: () => provider.forceFlush(),
    async shutdown() {
      instrumentation.disable();
      await provider.shutdown();
    },
  };
}

async function createInstrumentation(mode: 'streamscope' | 'openllmetry' | 'openinference'): Promise<Instrumentation> {
  switch (mode) {
    case 'streamscope': {
      const { StreamscopeInstrumentation } = await import('@streamscope/instrumentation');
      return new StreamscopeInstrumentation();
    }
    case 'openllmetry': {
      const { OpenAIInstrumentation } = await import('@traceloop/instrumentation-openai');
      // Prompts and completions off, as in the other modes: the comparison is about timing.
      const instrumentation = new OpenAIInstrumentation({ traceContent: false });
      instrumentation.manuallyInstrument(openaiModule.OpenAI as never);
      return instrumentation;
    }
    case 'openinference': {
      const { OpenAIInstrumentation } = await import('@arizeai/openinference-instrumentation-openai');
      const instrumentation = new OpenAIInstrumentation({ traceConfig: { hideInputs: true, hideOutputs: true } });
      instrumentation.manuallyInstrument(openaiModule as never);
      return instrumentation;
    }
  }
}

/**
 * OpenLIT builds its own tracer and meter providers and OTLP/HTTP (JSON) exporters from
 * `otlpEndpoint`, as its users run it; passing a provider of ours would skip its
 * instrumentation setup altogether. The pricing table is given inline because OpenLIT
 * otherwise downloads it from GitHub at start.
 */
async function instrumentOpenlit(otlpUrl: string, serviceName: string): Promise<Instrumented> {
  const { default: openlit } = await import('openlit');
  openlit.init({
    applicationName: serviceName,
    otlpEndpoint: otlpUrl,
    instrumentations: { openai: openaiModule },
    captureMessageContent: false,
    disableEvents: true,
    pricingJson: {},
  });
  const tracerProvider = (trace.getTracerProvider() as unknown as { getDelegate(): Shutdownable }).getDelegate();
  const meterProvider = metrics.getMeterProvider() as unknown as Partial<Shutdownable>;
  return {
    OpenAI: openaiModule.OpenAI,
    async flush() {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush?.();
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown?.();
    },
  };
}
