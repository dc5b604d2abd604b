/*
 * OpenLLMetry (@traceloop/instrumentation-openai) around the official openai client,
 * streaming Chat Completions: what reaches Streamscope's rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertCompletedRow, completedStreams, describePeerIngest } from './support';

describePeerIngest('openllmetry', (run) => {
  test('each completed stream becomes a row with model, response id, status and duration', () => {
    assert.equal(run().rows.length, run().schedules.size);
    for (const stream of completedStreams(run())) {
      assertCompletedRow(stream);
      assert.equal(stream.row.provider, 'openai');
    }
  });

  test('the package records no TTFT and no token usage on streamed chat (it ignores the usage chunk)', () => {
    for (const row of run().rows) {
      assert.equal(row.ttftMs, null);
      assert.equal(row.inputTokens, null);
      assert.equal(row.outputTokens, null);
    }
  });

  test('a stream that fails mid-way leaves no span at all: the package never ends it', () => {
    const { stats, schedules, unhandledRejections } = run();
    assert.equal(stats.spansReceived, schedules.size);
    assert.equal(stats.spansRejected, 0);
    assert.deepEqual(unhandledRejections, []);
  });
});
