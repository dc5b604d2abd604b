/*
 * OpenInference (@arizeai/openinference-instrumentation-openai) around the official openai
 * client, streaming Chat Completions: what reaches Streamscope.
 *
 * OpenInference writes its own attribute names (openinference.span.kind, llm.model_name,
 * llm.system, llm.token_count.*), none of them gen_ai.*; the collector reads those.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INJECTED_FAILURE_MESSAGE } from '../../demo/mock-server/schedule';
import { completedStreams, describePeerIngest, MODEL, scheduledDurationMs } from './support';

describePeerIngest('openinference', (run) => {
  test('every completed stream\'s span reaches the collector and none is rejected', () => {
    const { stats, schedules } = run();
    // The failed stream's span never ends (the package's stream consumer throws before it ends the span).
    assert.equal(stats.spansReceived, schedules.size);
    assert.equal(stats.spansRejected, 0);
  });

  test('a stream that fails mid-way leaves the package\'s own promise rejection unhandled', () => {
    const { unhandledRejections } = run();
    assert.equal(unhandledRejections.length, 1);
    assert.equal((unhandledRejections[0] as Error).message, INJECTED_FAILURE_MESSAGE);
  });

  test('each completed stream becomes a row with model, status and duration, and no prompt text', () => {
    assert.equal(run().rows.length, run().schedules.size);
    for (const { row, schedule } of completedStreams(run())) {
      assert.equal(row.model, MODEL);
      assert.equal(row.status, 'ok');
      assert.ok(row.durationMs >= scheduledDurationMs(schedule) - 2);
      assert.equal(row.provider, 'openai');
      assert.ok(!Object.keys(row.attributes ?? {}).some((key) => key.startsWith('llm.input_messages.') || key === 'input.value'));
    }
  });
});
