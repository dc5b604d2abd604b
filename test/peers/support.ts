/*
 * One peer package end to end: the official `openai` client, patched by the package,
 * streams Chat Completions over SSE from the local mock; the package's spans go through
 * an official OTLP exporter to a running Streamscope collector; the test reads the rows.
 *
 * A file covers one package (they patch the same prototypes and register global
 * providers), so the package is switched on once per file and exports to one fixed port,
 * which each database's collector takes over in turn.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { instrument, PACKAGE_OF, type Instrumented, type Peer } from '../../bench/peers/setup';
import { startCollector, type CollectorStats } from '../../collector';
import { responses, type ResponseRow } from '../../db/schema';
import { createMockModelServer, type MockModelServer } from '../../demo/mock-server/mock-model-server';
import type { TokenSchedule } from '../../demo/mock-server/schedule';
import { describeEachDatabase } from '../support/databases';

export const MODEL = 'gpt-4.1-mini';
export const SERVICE = 'peers-test';
const STREAMS = 3;

export interface PeerRun {
  /** Rows of the run's service, completed streams first (in request order), then the failed one. */
  rows: ResponseRow[];
  /** The injected schedule of each completed stream, by chat completion id, in request order. */
  schedules: Map<string, TokenSchedule>;
  stats: CollectorStats;
  /** Promise rejections the package left unhandled while the failing stream ran. */
  unhandledRejections: unknown[];
}

export function describePeerIngest(peer: Peer, body: (run: () => PeerRun) => void): void {
  let instrumented: Instrumented | undefined;
  let port = 0;
  after(() => instrumented?.shutdown());

  describeEachDatabase(`${PACKAGE_OF[peer]} spans into Streamscope`, (database) => {
    let run: PeerRun | undefined;
    before(async () => {
      const collector = await startCollector({ store: database().store, port });
      port = collector.port;
      instrumented ??= await instrument(peer, collector.url, SERVICE);
      const mock = await createMockModelServer({ seed: 11 });
      const failing = await createMockModelServer({ seed: 12, schedule: { errorRate: 1 } });
      try {
        const schedules = await streamCompletions(instrumented, mock);
        const unhandledRejections = await streamFailure(instrumented, failing);
        await instrumented.flush();
        // Each suite has a database of its own: every row is this run's.
        const rows = await database().store.db.select().from(responses);
        const byId = [...schedules.keys()];
        rows.sort((a, b) => rank(byId, a) - rank(byId, b));
        run = { rows, schedules, stats: { ...collector.stats }, unhandledRejections };
      } finally {
        await Promise.all([mock.close(), failing.close(), collector.close()]);
      }
    });
    body(() => {
      if (!run) throw new Error('the run happens in before()');
      return run;
    });
  });
}

const rank = (ids: string[], row: ResponseRow) => {
  const index = row.responseId ? ids.indexOf(row.responseId) : -1;
  return index === -1 ? ids.length : index;
};

async function streamCompletions(instrumented: Instrumented, mock: MockModelServer): Promise<Map<string, TokenSchedule>> {
  const client = new instrumented.OpenAI({ baseURL: mock.url, apiKey: 'test', maxRetries: 0 });
  const schedules = new Map<string, TokenSchedule>();
  for (let i = 0; i < STREAMS; i++) {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: `question ${i}` }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let id = '';
    for await (const chunk of stream) id = chunk.id;
    const schedule = mock.scheduleFor(id);
    if (!schedule) throw new Error(`the mock has no schedule for ${id}`);
    schedules.set(id, schedule);
  }
  return schedules;
}

/**
 * The mock fails the stream in-band, as OpenAI does, and the client throws while iterating.
 * A package may leave a rejection of its own unhandled meanwhile (a process-killing bug in
 * an application with default settings); the test runner's listeners are set aside for the
 * stream so such a rejection is returned for the test to assert, not counted as the file failing.
 */
async function streamFailure(instrumented: Instrumented, failing: MockModelServer): Promise<unknown[]> {
  const client = new instrumented.OpenAI({ baseURL: failing.url, apiKey: 'test', maxRetries: 0 });
  const runnerListeners = process.listeners('unhandledRejection');
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', record);
  let threw = false;
  try {
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'fail' }], stream: true });
    for await (const _chunk of stream) {
      // drained until the in-band error
    }
  } catch {
    threw = true;
  } finally {
    // Rejections are reported after the microtask queue drains; a timer turn is past that.
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off('unhandledRejection', record);
    for (const listener of runnerListeners) process.on('unhandledRejection', listener);
  }
  if (!threw) throw new Error('the failing mock stream completed');
  return unhandled;
}

/** Request arrival to the last token, as injected. */
export const scheduledDurationMs = (schedule: TokenSchedule) => schedule.ttftMs + schedule.gapsMs.reduce((sum, gap) => sum + gap, 0);

export interface CompletedStream {
  row: ResponseRow;
  /** The chat completion id the client saw. */
  id: string;
  schedule: TokenSchedule;
}

/** The completed streams' rows (the first ones, in request order) beside what was injected. */
export function completedStreams({ rows, schedules }: PeerRun): CompletedStream[] {
  return [...schedules].map(([id, schedule], i) => ({ row: rows[i], id, schedule }));
}

/** What every package that writes gen_ai.* gets right on a completed stream. */
export function assertCompletedRow({ row, id, schedule }: CompletedStream): void {
  assert.equal(row.responseId, id);
  assert.equal(row.service, SERVICE);
  assert.equal(row.model, MODEL);
  assert.equal(row.operation, 'chat');
  assert.equal(row.status, 'ok');
  // The span covers the call to the last chunk read: at least the injected schedule, plus
  // loopback and scheduling, which a busy machine stretches by a second or more. The upper
  // bound only catches a unit mistake (seconds or microseconds read as ms), off a thousandfold.
  const injected = scheduledDurationMs(schedule);
  assert.ok(row.durationMs >= injected - 2 && row.durationMs < injected * 100, `${row.durationMs} ms for ${injected} ms injected`);
}
