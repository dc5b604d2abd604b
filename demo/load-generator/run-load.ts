import { performance } from 'node:perf_hooks';
import { TransportStats, type TransportSummary } from './latency-stats.ts';
import { OpenLoopPacer } from './open-loop-pacer.ts';
import { formatProgress, startProgress } from './progress-line.ts';
import type { ConnectionPolicy, Transport, UserSession } from './user-sessions.ts';

export type { ConnectionPolicy, Transport } from './user-sessions.ts';
export type { TransportSummary } from './latency-stats.ts';

export interface RunLoadOptions {
  /** Base URL of an OpenAI-compatible API: the mock's `url`, or a delay proxy in front of it. */
  baseURL: string;
  /** `both` runs the two transports side by side, each with all the users and the full rate. */
  transport: Transport | 'both';
  /** Concurrent users per transport; each has at most one response in flight. */
  virtualUsers: number;
  /** Responses per second to start, per transport, regardless of how fast earlier ones finish. */
  targetRate: number;
  /** How long to keep starting responses; those in flight at the end still finish. May be Infinity. */
  durationMs: number;
  /** Default `persistent-ws`. */
  connectionPolicy?: ConnectionPolicy;
  model?: string;
  input?: string;
  apiKey?: string;
  /** PEM certificate to trust when the server's is self-signed (the mock's `ca`). */
  ca?: string;
  /**
   * Responses started in the first `warmupMs` run but stay out of the figures, which then cover
   * the time after it: the start pays for JIT and a burst of new connections. Default 0.
   */
  warmupMs?: number;
  /** No progress line. */
  quiet?: boolean;
  /** Stops the run early; responses cut short by it are left out of the figures. */
  signal?: AbortSignal;
}

export interface LoadSummary {
  /** The measured time: from the end of the warm-up until the last response ended. */
  elapsedMs: number;
  transports: Partial<Record<Transport, TransportSummary>>;
  /** Responses that were due by the target rate but never started because every user was busy. */
  unsent: number;
}

interface Lane {
  transport: Transport;
  pacer: OpenLoopPacer;
  stats: TransportStats;
}

const PROGRESS_INTERVAL_MS = 1000;

async function runUser(lane: Lane, session: UserSession, cancelled: AbortSignal, measureFrom: number): Promise<void> {
  try {
    while (await lane.pacer.next()) {
      const timing = await session.next(cancelled);
      if (cancelled.aborted) return;
      lane.stats.record(timing, timing.sentAt >= measureFrom);
    }
  } finally {
    session.close();
  }
}

/**
 * Drives virtual users against an OpenAI-compatible server with the official `openai` client
 * and reports client-side figures per transport.
 *
 * Nothing network-related loads before the first call: the clients, `ws` and the pools are
 * imported and created here, so instrumentation registered before `runLoad` sees them all.
 */
export async function runLoad(options: RunLoadOptions): Promise<LoadSummary> {
  const { createSessionFactory } = await import('./user-sessions.ts');
  const factory = await createSessionFactory({
    baseURL: options.baseURL,
    apiKey: options.apiKey ?? 'streamscope-demo',
    request: { model: options.model ?? 'mock-model', input: options.input ?? 'Stream a short answer.' },
    policy: options.connectionPolicy ?? 'persistent-ws',
    ca: options.ca,
  });
  const transports: Transport[] = options.transport === 'both' ? ['websocket', 'sse'] : [options.transport];
  const lanes: Lane[] = transports.map((transport) => ({
    transport,
    pacer: new OpenLoopPacer(options.targetRate, options.durationMs),
    stats: new TransportStats(),
  }));
  const sessions = lanes.flatMap((lane) => Array.from({ length: options.virtualUsers }, () => ({ lane, session: factory.open(lane.transport) })));
  const startedAt = performance.now();
  const measureFrom = startedAt + (options.warmupMs ?? 0);

  const cancel = new AbortController();
  const onAbort = () => {
    cancel.abort();
    for (const { pacer } of lanes) pacer.stop();
    // Closing sockets ends responses in flight; SSE requests end through `cancel`.
    for (const { session } of sessions) session.close();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const stopProgress = options.quiet
    ? () => {}
    : startProgress(
        () =>
          formatProgress(
            performance.now() - startedAt,
            PROGRESS_INTERVAL_MS,
            lanes.map(({ transport, stats, pacer }) => ({ transport, interval: stats.takeInterval(), totalErrors: stats.errorsSeen, backlog: pacer.backlog })),
          ),
        PROGRESS_INTERVAL_MS,
      );

  try {
    await Promise.all(sessions.map(({ lane, session }) => runUser(lane, session, cancel.signal, measureFrom)));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stopProgress();
    await factory.close();
  }
  const elapsedMs = Math.max(0, performance.now() - measureFrom);
  return {
    elapsedMs,
    transports: Object.fromEntries(lanes.map(({ transport, stats }) => [transport, stats.summarize(elapsedMs)])),
    unsent: lanes.reduce((sum, { pacer }) => sum + pacer.unsent, 0),
  };
}
