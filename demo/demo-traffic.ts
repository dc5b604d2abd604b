/*
 * The traffic `demo` and `bench` send through Streamscope: the mock model server over TLS
 * behind the delay proxy, so every new connection pays TCP and TLS round trips as it would
 * over the internet, the instrumentation exporting to a collector, and load lanes — one per
 * transport and connection policy — run side by side by the load generator.
 */
import { createRequire } from 'node:module';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';
import type { DelayProxy } from './delay-proxy/delay-proxy.ts';
import type { ConnectionPolicy, LoadSummary, Transport } from './load-generator/run-load.ts';
import type { MockModelServer } from './mock-server/mock-model-server.ts';

/** One kind of traffic: a transport with a connection policy, under its own model name. */
export interface LoadLane {
  label: string;
  transport: Transport;
  policy: ConnectionPolicy;
  /**
   * The dashboard groups by model and transport; a lane that shares its transport with
   * another (SSE keep-alive beside SSE new-connection) needs its own model to stay apart.
   */
  model: string;
}

export const MOCK_MODEL = 'mock-model';

/** The comparison the product is about: a persistent socket against a handshake per response. */
export const WEBSOCKET_LANE: LoadLane = { label: 'websocket', transport: 'websocket', policy: 'persistent-ws', model: MOCK_MODEL };
export const SSE_NEW_CONNECTION_LANE: LoadLane = { label: 'sse', transport: 'sse', policy: 'new-connection', model: MOCK_MODEL };
export const SSE_KEEP_ALIVE_LANE: LoadLane = { label: 'sse-keep-alive', transport: 'sse', policy: 'keep-alive', model: `${MOCK_MODEL}-keep-alive` };

export interface TrafficOptions {
  /** The collector's OTLP/HTTP traces endpoint. */
  tracesUrl: string;
  /** Ingest API key, sent as `Authorization: Bearer` the way an application would. */
  apiKey?: string;
  /** `service.name` of the exported spans. */
  serviceName: string;
  /** Round-trip time the delay proxy adds. */
  rttMs: number;
}

export interface LaneLoad {
  /** Users per lane, each with at most one response in flight. */
  virtualUsers: number;
  /** Responses per second each lane starts. */
  ratePerLane: number;
  /** May be Infinity: then the lanes run until `signal` aborts. */
  durationMs: number;
  warmupMs?: number;
  signal?: AbortSignal;
}

export interface Traffic {
  /** Runs the lanes side by side; resolves with each lane's client-side figures, by label. */
  run(lanes: readonly LoadLane[], load: LaneLoad): Promise<Map<string, LoadSummary>>;
  /** Stops proxy and mock, then delivers every span still buffered. Call after `run` settled. */
  close(): Promise<void>;
}

/** Spans reach the collector within about this long, so a dashboard fills within seconds. */
const EXPORT_DELAY_MS = 1000;
/** Connection spans end on the sockets' `close` events, which follow their destruction by a tick or so. */
const SOCKET_CLOSE_SETTLE_MS = 100;

export async function startTraffic(options: TrafficOptions): Promise<Traffic> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({
        url: options.tracesUrl,
        headers: options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : undefined,
      }), {
        scheduledDelayMillis: EXPORT_DELAY_MS,
        maxQueueSize: 65_536,
        maxExportBatchSize: 2048,
      }),
    ],
  });
  const unregister = registerInstrumentations({ instrumentations: [new StreamscopeInstrumentation()], tracerProvider: provider });
  // The instrumentation hooks `ws` when it is first required: load it now, before the mock
  // and the `openai` client import it (their ES-module entries share this CommonJS copy).
  createRequire(import.meta.url)('ws');
  const { createMockModelServer } = await import('./mock-server/mock-model-server.ts');
  const { createDelayProxy } = await import('./delay-proxy/delay-proxy.ts');
  const { runLoad } = await import('./load-generator/run-load.ts');

  let mock: MockModelServer | undefined;
  let proxy: DelayProxy;
  try {
    mock = await createMockModelServer({ tls: true });
    proxy = await createDelayProxy({ target: { host: '127.0.0.1', port: mock.port }, rttMs: options.rttMs });
  } catch (error) {
    // Leave the process as it was: no listening server, no patched `ws` or `fetch`.
    await mock?.close();
    unregister();
    await provider.shutdown();
    throw error;
  }
  const server = mock;
  const baseURL = `https://127.0.0.1:${proxy.port}/v1`;

  return {
    async run(lanes, load) {
      const summaries = await Promise.all(
        lanes.map((lane) =>
          runLoad({
            baseURL,
            ca: server.ca ?? undefined,
            transport: lane.transport,
            connectionPolicy: lane.policy,
            model: lane.model,
            virtualUsers: load.virtualUsers,
            targetRate: load.ratePerLane,
            durationMs: load.durationMs,
            warmupMs: load.warmupMs,
            signal: load.signal,
            // Several lanes would overwrite each other's line; callers print their own.
            quiet: true,
          }),
        ),
      );
      return new Map(lanes.map((lane, i) => [lane.label, summaries[i]]));
    },
    async close() {
      await proxy.close();
      await server.close();
      await new Promise((resolve) => setTimeout(resolve, SOCKET_CLOSE_SETTLE_MS));
      await provider.shutdown();
      unregister();
    },
  };
}
