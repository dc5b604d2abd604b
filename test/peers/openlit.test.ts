/*
 * OpenLIT around the official openai client, streaming Chat Completions and exporting with
 * its own OTLP/HTTP (JSON) exporter: what reaches Streamscope's rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INJECTED_FAILURE_MESSAGE } from '../../demo/mock-server/schedule';
import { assertCompletedRow, completedStreams, describePeerIngest } from './support';

describePeerIngest('openlit', (run) => {
  test('each completed stream becomes a row with model, token usage, status and duration', () => {
    for (const stream of completedStreams(run())) {
      assertCompletedRow(stream);
      assert.equal(stream.row.outputTokens, stream.schedule.tokens.length);
      assert.ok(stream.row.inputTokens !== null && stream.row.inputTokens > 0);
    }
  });

  test('a stream that fails mid-way becomes an error row with the message', () => {
    const { rows, schedules, unhandledRejections } = run();
    assert.equal(rows.length, schedules.size + 1);
    const failed = rows[schedules.size];
    assert.equal(failed.status, 'error');
    assert.equal(failed.errorMessage, INJECTED_FAILURE_MESSAGE);
    assert.deepEqual(unhandledRejections, []);
  });

  test('its TTFT (gen_ai.server.time_to_first_token, stored as the TTFT) is the role-only opening chunk, not the first token', () => {
    const measured = completedStreams(run()).filter(({ row }) => row.ttftMs !== null);
    // Absent when it rounds to 0 ms, which the package then drops.
    for (const { row, schedule } of measured) {
      assert.ok(row.ttftMs! < schedule.ttftMs / 2, `${row.ttftMs} ms against ${schedule.ttftMs} ms injected`);
    }
  });
});
