/*
 * false, 0 and "" are values, not absences: a response on a fresh connection says
 * connection_reused=false, an empty completion has zero output tokens.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTR_KIND, KIND, RESPONSE } from '@streamscope/instrumentation/contract';
import { describeEachDatabase } from '../../test/support/databases';
import { emitSpans, hrTimeAt, recentHrTime } from './support/spans';
import { responseRow, useCollector } from './support/collector';

describeEachDatabase('false, 0 and empty-string attribute values', (database) => {
  const collector = useCollector(database);
  for (const exporter of ['protobuf', 'json'] as const) {
    test(`${exporter}: are stored as such, not as missing`, async () => {
      const start = recentHrTime();
      const [{ spanId }] = await emitSpans({ url: `${collector().url}/v1/traces`, exporter, resource: { 'service.name': 'zero-values' } }, [{
        name: 'chat gpt-test',
        startTime: start,
        endTime: hrTimeAt(start, 50),
        attributes: {
          [ATTR_KIND]: KIND.RESPONSE,
          'gen_ai.request.model': 'gpt-test',
          [RESPONSE.CONNECTION_REUSED]: false,
          [RESPONSE.OUTPUT_CHUNKS]: 0,
          'gen_ai.usage.output_tokens': 0,
          [RESPONSE.TTFB_MS]: 0,
          'app.note': '',
        },
      }]);
      const row = await responseRow(database().store, spanId);
      assert.equal(row.connectionReused, false);
      assert.equal(row.outputChunks, 0);
      assert.equal(row.outputTokens, 0);
      assert.equal(row.ttfbMs, 0);
      assert.equal(row.attributes['app.note'], '');
    });
  }
});
