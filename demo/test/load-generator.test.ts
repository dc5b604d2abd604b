import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { percentile } from '../load-generator/latency-stats.ts';
import { OpenLoopPacer } from '../load-generator/open-loop-pacer.ts';
import { runLoad } from '../load-generator/run-load.ts';
import { createMockModelServer, type MockModelServer } from '../mock-server/mock-model-server.ts';
import type { ScheduleConfig } from '../mock-server/schedule.ts';

const QUICK: Partial<ScheduleConfig> = {
  ttftMs: { kind: 'uniform', min: 20, max: 60 },
  interTokenMs: { kind: 'uniform', min: 2, max: 10 },
  outputTokens: { kind: 'uniform', min: 5, max: 15 },
};

describe('load generator', () => {
  let server: MockModelServer;
  let failing: MockModelServer;

  before(async () => {
    server = await createMockModelServer({ schedule: QUICK });
    failing = await createMockModelServer({ schedule: { ...QUICK, errorRate: 1 } });
  });
  after(async () => {
    await server.close();
    await failing.close();
  });

  test('a 2-second smoke over both transports completes every response', async () => {
    const summary = await runLoad({ baseURL: server.url, transport: 'both', virtualUsers: 3, targetRate: 5, durationMs: 2000, quiet: true });
    assert.deepEqual(Object.keys(summary.transports).sort(), ['sse', 'websocket']);
    for (const [transport, figures] of Object.entries(summary.transports)) {
      assert.equal(figures.errors, 0, `${transport}: ${JSON.stringify(figures.errorReasons)}`);
      // 5/s for 2 s is 10 due (one at t = 0); timers may slip one either way.
      assert.ok(figures.count >= 8 && figures.count <= 11, `${transport}: ${figures.count} responses`);
      assert.ok(figures.ttftMs.p50 !== null && figures.ttftMs.p50 >= 20, `${transport}: TTFT p50 ${figures.ttftMs.p50}`);
      assert.ok(figures.endToEndMs.p99! >= figures.ttftMs.p99!, `${transport}: end-to-end covers TTFT`);
      assert.ok(figures.responsesPerSecond > 0 && figures.outputTokens >= 5 * figures.count);
    }
    assert.equal(summary.unsent, 0);
  });

  // Connections each policy should open for `users` users sending `responses` responses in all.
  const expectedConnections = {
    'persistent-ws': (users: number) => users,
    'keep-alive': (users: number) => users,
    'new-connection': (_users: number, responses: number) => responses,
  };
  for (const policy of ['persistent-ws', 'keep-alive', 'new-connection'] as const) {
    for (const transport of ['websocket', 'sse'] as const) {
      test(`the ${policy} policy opens the connections it promises over ${transport}`, async () => {
        const before = server.connectionsAccepted();
        const summary = await runLoad({ baseURL: server.url, transport, virtualUsers: 2, targetRate: 6, durationMs: 1000, connectionPolicy: policy, quiet: true });
        const figures = summary.transports[transport]!;
        assert.equal(figures.errors, 0, JSON.stringify(figures.errorReasons));
        assert.ok(figures.count >= 4, `${figures.count} responses`);
        const opened = server.connectionsAccepted() - before;
        const expected = expectedConnections[policy](2, figures.count);
        // A shared keep-alive pool may open fewer connections than users when requests don't overlap.
        assert.ok(opened <= expected && opened >= (policy === 'keep-alive' ? 1 : expected), `${opened} connections, expected ${expected}`);
      });
    }
  }

  test('injected failures are counted as errors, by reason, and kept out of latency', async () => {
    const summary = await runLoad({ baseURL: failing.url, transport: 'both', virtualUsers: 2, targetRate: 5, durationMs: 1000, quiet: true });
    for (const figures of Object.values(summary.transports)) {
      assert.equal(figures.count, 0);
      assert.ok(figures.errors >= 4);
      assert.deepEqual(Object.keys(figures.errorReasons), ['response.failed']);
      assert.equal(figures.ttftMs.p50, null);
    }
  });

  test('responses started during the warm-up stay out of the figures', async () => {
    const summary = await runLoad({ baseURL: server.url, transport: 'websocket', virtualUsers: 2, targetRate: 10, durationMs: 1000, warmupMs: 500, quiet: true });
    const figures = summary.transports.websocket!;
    // Slots at 0, 100, … 900 ms: the five from 500 ms on count.
    assert.ok(figures.count >= 4 && figures.count <= 6, `${figures.count} responses`);
    assert.ok(summary.elapsedMs < 1000);
  });

  test('an abort signal ends the run early', async () => {
    const controller = new AbortController();
    const startedAt = performance.now();
    setTimeout(() => controller.abort(), 300);
    await runLoad({ baseURL: server.url, transport: 'both', virtualUsers: 2, targetRate: 5, durationMs: 60_000, quiet: true, signal: controller.signal });
    assert.ok(performance.now() - startedAt < 5000);
  });

  test('the progress line goes to stderr unless quiet', async () => {
    const writes: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => writes.push(chunk) > 0) as typeof process.stderr.write;
    try {
      await runLoad({ baseURL: server.url, transport: 'sse', virtualUsers: 1, targetRate: 5, durationMs: 1300 });
    } finally {
      process.stderr.write = write;
    }
    assert.match(writes.join(''), /\[\s+1 s\] sse [\d.]+ resp\/s, TTFT p50 \d+ ms, errors 0/);
  });
});

describe('load generator building blocks', () => {
  test('nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([], 50), null);
  });

  test('the pacer releases slots at the target rate and reports a backlog', async () => {
    const pacer = new OpenLoopPacer(20, 10_000);
    const startedAt = performance.now();
    for (let i = 0; i < 5; i++) assert.equal(await pacer.next(), true);
    // Five slots at 20/s: the fifth is due 200 ms after the first.
    assert.ok(performance.now() - startedAt >= 190);
    await new Promise((resolve) => setTimeout(resolve, 160));
    assert.ok(pacer.backlog >= 2, `backlog ${pacer.backlog}`);
    const backlog = pacer.backlog;
    pacer.stop();
    assert.equal(pacer.unsent, backlog);
    assert.equal(await pacer.next(), false);
  });

  test('the pacer ends by itself after its duration', async () => {
    const pacer = new OpenLoopPacer(10, 250);
    const results: boolean[] = [];
    for (let go = await pacer.next(); go; go = await pacer.next()) results.push(go);
    // Slots at 0, 100 and 200 ms.
    assert.equal(results.length, 3);
    assert.equal(pacer.unsent, 0);
  });
});
