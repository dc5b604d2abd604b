/*
 * Span → row rules that no exporter test reaches: precedence between our attributes and
 * the GenAI conventions', strict column types, and the bounds on what one row can hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTR_KIND, GEN_AI, KIND, OUTCOME, RESPONSE } from '@streamscope/instrumentation/contract';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Attributes, DecodedSpan } from '../otlp/decode';
import { MAX_TOKEN_OFFSETS, translateSpans, UNKNOWN_SERVICE } from '../translate';

function span(attributes: Attributes, overrides: Partial<DecodedSpan> = {}): DecodedSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: null,
    name: 'chat',
    kind: 3,
    startTimeUnixNano: 1_764_000_000_000_000_000n,
    endTimeUnixNano: 1_764_000_000_500_000_000n,
    startTimeMs: 1_764_000_000_000,
    durationMs: 500,
    attributes,
    resource: { [ATTR_SERVICE_NAME]: 'svc' },
    scope: { name: 'test', version: '' },
    status: { error: false, message: '' },
    ...overrides,
  };
}

const response = (attributes: Attributes) => ({ [ATTR_KIND]: KIND.RESPONSE, ...attributes });

test('our TTFT wins over the GenAI time-to-first-chunk, which is converted from seconds when alone', () => {
  const { responses } = translateSpans([
    span(response({ [RESPONSE.TTFT_MS]: 120, [GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK]: 9 })),
    span(response({ [GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK]: 0.125 })),
  ]);
  assert.deepEqual(responses.map((r) => r.ttftMs), [120, 125]);
  // The unused fallback stays visible in the row's attributes.
  assert.equal((responses[0].attributes as Attributes)[GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK], 9);
});

test('a stream that failed is an error even when the span status is not', () => {
  const { responses } = translateSpans([
    span(response({ [RESPONSE.OUTCOME]: OUTCOME.CONNECTION_LOST })),
    span(response({ [RESPONSE.OUTCOME]: OUTCOME.INCOMPLETE })),
  ]);
  assert.deepEqual(responses.map((r) => r.status), ['error', 'ok']);
});

test('a mapped attribute that cannot fill its column rejects the span, naming attribute and value', () => {
  const cases: [Attributes, RegExp][] = [
    [{ [RESPONSE.DURATION_MS]: -1 }, /duration_ms must be a finite non-negative number, got -1/],
    [{ [RESPONSE.TTFB_MS]: 'fast' }, /ttfb_ms must be a finite non-negative number, got "fast"/],
    [{ [GEN_AI.USAGE_OUTPUT_TOKENS]: 2.5 }, /output_tokens must be an integer from 0 to 2147483647, got 2.5/],
    [{ [RESPONSE.CONNECTION_REUSED]: 'yes' }, /connection.reused must be a boolean/],
    [{ [RESPONSE.TOKEN_OFFSETS_US]: [1, -2] }, /token_offsets_us must be an array of integers/],
    [{ [GEN_AI.REQUEST_MODEL]: ['a'] }, /request.model must be a string/],
  ];
  const { responses, rejected } = translateSpans(cases.map(([attributes]) => span(response(attributes))));
  assert.equal(responses.length, 0);
  cases.forEach(([, reason], i) => assert.match(rejected[i].reason, reason));
  assert.equal(rejected[0].span, '0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331');
});

test('numbers and booleans fill text columns as text; an empty value is no value', () => {
  const [row] = translateSpans([span(response({ [GEN_AI.REQUEST_MODEL]: 4, [GEN_AI.RESPONSE_ID]: null }))]).responses;
  assert.equal(row.requestModel, '4');
  assert.equal(row.responseId, null);
});

test('token offsets beyond the cap are cut, and a span without service.name gets the SDK default', () => {
  const offsets = Array.from({ length: MAX_TOKEN_OFFSETS + 10 }, (_, i) => i);
  const [row] = translateSpans([span(response({ [RESPONSE.TOKEN_OFFSETS_US]: offsets }), { resource: {} })]).responses;
  assert.equal(row.tokenOffsetsUs?.length, MAX_TOKEN_OFFSETS);
  assert.equal(row.service, UNKNOWN_SERVICE);
});
