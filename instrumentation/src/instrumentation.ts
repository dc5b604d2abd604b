import { ValueType } from '@opentelemetry/api';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} from '@opentelemetry/instrumentation';
import {
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
} from '@opentelemetry/semantic-conventions/incubating';
import type { MetricInstruments, Recorder, ResolvedConfig } from './internal-types.ts';
import { FetchTransport } from './transports/fetch.ts';
import { GlobalWebSocketTransport } from './transports/global-websocket.ts';
import { WsTransport } from './transports/ws.ts';
import type { StreamscopeInstrumentationConfig } from './types.ts';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.ts';

const DEFAULTS = {
  maxTokenOffsets: 4096,
  tokenEvents: false,
  timePerOutputChunkMetric: true,
  captureContent: false,
  maxContentBytes: 64 * 1024,
  maxEventBytes: 1024 * 1024,
  responseTimeoutMs: 5 * 60 * 1000,
  connectionReportIntervalMs: 30_000,
};

/** Bucket boundaries the GenAI conventions advise for durations, seconds. */
const DURATION_BUCKETS_S = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/** Per-chunk times are one to two orders below whole-operation durations. */
const CHUNK_BUCKETS_S = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2.5];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

type WsClass = { prototype: object };

/**
 * Emits one span per streamed model response and one per connection, with TTFT,
 * inter-token latency and connection phases, for the `ws` client, the global WebSocket and
 * streaming `fetch` (SSE).
 */
export class StreamscopeInstrumentation extends InstrumentationBase<StreamscopeInstrumentationConfig> {
  // `declare`: the base constructor calls enable() and _updateMetricInstruments() before
  // subclass field initialisers would run, and initialisers would then reset them.
  declare private _instruments: MetricInstruments;
  declare private _resolvedConfig: ResolvedConfig;
  declare private _transports: { ws: WsTransport; fetch: FetchTransport; globalWebSocket: GlobalWebSocketTransport };

  constructor(config: StreamscopeInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  protected init() {
    const patch = (exports: unknown) => this.patchWs(exports);
    const unpatch = (exports: unknown) => this.unpatchWs(exports);
    // The ESM entry (wrapper.mjs) imports lib/websocket.js directly; both paths share one prototype.
    return new InstrumentationNodeModuleDefinition('ws', ['>=7 <9'], patch, unpatch, [
      new InstrumentationNodeModuleFile('ws/lib/websocket.js', ['>=7 <9'], patch, unpatch),
    ]);
  }

  override setConfig(config: StreamscopeInstrumentationConfig = {}): void {
    super.setConfig(config);
    // Resolved once here: the hot path reads it on every frame.
    this._resolvedConfig = { ...DEFAULTS, ...this._config };
  }

  override enable(): void {
    super.enable();
    const transports = this.transports();
    transports.ws.subscribe();
    transports.fetch.enable();
    transports.globalWebSocket.enable();
  }

  override disable(): void {
    super.disable();
    const transports = this.transports();
    transports.ws.unsubscribe();
    transports.fetch.disable();
    transports.globalWebSocket.disable();
  }

  protected override _updateMetricInstruments(): void {
    const seconds = (name: string, description: string, buckets: number[]) =>
      this.meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
    this._instruments = {
      operationDuration: seconds(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, 'GenAI operation duration.', DURATION_BUCKETS_S),
      tokenUsage: this.meter.createHistogram(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
        description: 'Number of input and output tokens used.',
        unit: '{token}',
        valueType: ValueType.INT,
        advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
      }),
      timeToFirstChunk: seconds(
        METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        'Time from the request to the first output chunk.',
        DURATION_BUCKETS_S,
      ),
      timePerOutputChunk: seconds(
        METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        'Time between consecutive output chunks.',
        CHUNK_BUCKETS_S,
      ),
    };
  }

  private transports() {
    this._transports ??= (() => {
      const recorder = this.recorder();
      return {
        ws: new WsTransport(recorder),
        fetch: new FetchTransport(recorder),
        globalWebSocket: new GlobalWebSocketTransport(recorder),
      };
    })();
    return this._transports;
  }

  /** Trackers read tracer, instruments and config when a span is built, so later provider or config changes apply. */
  private recorder(): Recorder {
    const tracer = () => this.tracer;
    const instruments = () => this._instruments;
    const config = () => this._resolvedConfig;
    return {
      get tracer() {
        return tracer();
      },
      get instruments() {
        return instruments();
      },
      get config() {
        return config();
      },
      diag: this._diag,
    };
  }

  private wsPrototype(exports: unknown): Record<string, unknown> | undefined {
    const candidates = [exports, (exports as { WebSocket?: unknown })?.WebSocket, (exports as { default?: unknown })?.default];
    const ws = candidates.find((c): c is WsClass => typeof c === 'function' && typeof (c as WsClass).prototype === 'object');
    return ws?.prototype as Record<string, unknown> | undefined;
  }

  private patchWs<T>(exports: T): T {
    const proto = this.wsPrototype(exports);
    if (!proto || isWrapped(proto.send)) return exports;
    const ws = this.transports().ws;
    this._wrap(proto, 'emit', ws.wrapEmit as never);
    this._wrap(proto, 'send', ws.wrapSend as never);
    this._wrap(proto, 'close', ws.wrapClose as never);
    this._wrap(proto, 'terminate', ws.wrapClose as never);
    return exports;
  }

  private unpatchWs(exports: unknown): void {
    const proto = this.wsPrototype(exports);
    if (!proto || !isWrapped(proto.send)) return;
    for (const name of ['emit', 'send', 'close', 'terminate']) this._unwrap(proto, name);
    // emit is inherited from EventEmitter; unwrapping leaves an own copy that need not stay.
    delete proto.emit;
  }
}
