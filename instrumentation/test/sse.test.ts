import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { API, ATTR_API, ATTR_CONNECTION_ID, ATTR_TRANSPORT, CONNECTION, GEN_AI, OUTCOME, RESPONSE, TRANSPORT } from '../src/contract.ts';
import { assertMatchesSchedule } from './utils/assert-timing.ts';
import { MockModelServer, MOCK_MODEL } from './utils/mock-model-server.ts';
import { eventually, setupSuite } from './utils/telemetry.ts';

describe('streaming fetch (SSE)', () => {
  const suite = setupSuite();
  const { telemetry } = suite;
  let openai: OpenAI;
  before(async () => {
    // Clients capture fetch when constructed, so they are built after the instrumentation.
    openai = new OpenAI({ apiKey: 'test', baseURL: `${suite.server.httpURL}/v1`, maxRetries: 0 });
    // One stream before the timed ones, as bench/fidelity warms up: the first compiles the
    // client's and the instrumentation's streaming code on this thread, a stall of tens of
    // ms on a loaded machine during which the arriving bytes wait unread in the socket.
    for await (const event of await openai.responses.create({ input: 'warm-up', model: MOCK_MODEL, stream: true })) void event;
  });

  /** The newest response span once it has ended. */
  async function nextResponseSpan(before: number) {
    return eventually(() => telemetry.responses()[before]);
  }

  it('times a Responses API stream from the official client against the injected schedule', async () => {
    const spansBefore = telemetry.responses().length;
    // Typed input items and tools, as real requests carry: the request model is still read.
    const stream = await openai.responses.create({
      input: [{ type: 'message', role: 'user', content: 'hi' }],
      tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} }, strict: false }],
      model: MOCK_MODEL,
      stream: true,
    });
    const text: string[] = [];
    for await (const event of stream) if (event.type === 'response.output_text.delta') text.push(event.delta);
    const sent = suite.server.sent.at(-1)!;
    const schedule = suite.server.scheduleFor(suite.server.sent.length - 1);
    assert.deepEqual(text, schedule.tokens, 'the application received every token');

    const span = await nextResponseSpan(spansBefore);
    assert.equal(span.name, `chat ${MOCK_MODEL}`);
    assert.equal(span.attributes[ATTR_API], API.OPENAI_RESPONSES);
    assert.equal(span.attributes[ATTR_TRANSPORT], TRANSPORT.SSE);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assert.equal(span.attributes[GEN_AI.PROVIDER_NAME], 'openai');
    assert.equal(span.attributes[GEN_AI.REQUEST_MODEL], MOCK_MODEL);
    assert.equal(span.attributes[GEN_AI.RESPONSE_MODEL], MOCK_MODEL);
    assert.equal(span.attributes[GEN_AI.RESPONSE_ID], sent.id);
    assert.equal(span.attributes[GEN_AI.USAGE_OUTPUT_TOKENS], schedule.tokens.length);
    assert.ok((span.attributes[RESPONSE.TTFB_MS] as number) < (span.attributes[RESPONSE.TTFT_MS] as number), 'control events arrive before the first token');
    assert.equal(span.attributes[GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK], (span.attributes[RESPONSE.TTFT_MS] as number) / 1000);
    assertMatchesSchedule(span, sent, schedule);
  });

  it('times Chat Completions chunks and reads usage from the final chunk', async () => {
    const spansBefore = telemetry.responses().length;
    const stream = await openai.chat.completions.create({
      model: MOCK_MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) void chunk;
    const span = await nextResponseSpan(spansBefore);
    assert.equal(span.attributes[ATTR_API], API.OPENAI_CHAT_COMPLETIONS);
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assert.deepEqual(span.attributes[GEN_AI.RESPONSE_FINISH_REASONS], ['stop']);
    assert.equal(span.attributes[GEN_AI.USAGE_INPUT_TOKENS], 5);
    assertMatchesSchedule(span, suite.server.sent.at(-1)!, suite.server.scheduleFor(suite.server.sent.length - 1));
  });

  it('times an Anthropic Messages stream from the official client', async () => {
    const spansBefore = telemetry.responses().length;
    const anthropic = new Anthropic({ apiKey: 'test', baseURL: suite.server.httpURL, maxRetries: 0 });
    const stream = await anthropic.messages.create({ model: MOCK_MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const event of stream) void event;
    const span = await nextResponseSpan(spansBefore);
    assert.equal(span.attributes[ATTR_API], API.ANTHROPIC_MESSAGES);
    assert.equal(span.attributes[GEN_AI.PROVIDER_NAME], 'anthropic');
    assert.equal(span.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assert.deepEqual(span.attributes[GEN_AI.RESPONSE_FINISH_REASONS], ['end_turn']);
    assertMatchesSchedule(span, suite.server.sent.at(-1)!, suite.server.scheduleFor(suite.server.sent.length - 1));
  });

  it('marks a response on a kept-alive socket as reused and reports the connection phases once', async () => {
    const spansBefore = telemetry.responses().length;
    // A server of its own, so undici's pool for this origin starts empty.
    const fresh = await new MockModelServer().listen();
    const client = new OpenAI({ apiKey: 'test', baseURL: `${fresh.httpURL}/v1`, maxRetries: 0 });
    for (let i = 0; i < 2; i++) {
      const stream = await client.responses.create({ model: MOCK_MODEL, input: 'hi', stream: true });
      for await (const event of stream) void event;
      // undici returns the socket to its pool a moment after the body's last chunk.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [first, second] = [await nextResponseSpan(spansBefore), await nextResponseSpan(spansBefore + 1)];
    assert.equal(first.attributes[RESPONSE.CONNECTION_REUSED], false);
    assert.equal(second.attributes[RESPONSE.CONNECTION_REUSED], true);
    assert.equal(second.attributes[ATTR_CONNECTION_ID], first.attributes[ATTR_CONNECTION_ID]);
    await fresh.close();
    const connection = await eventually(() =>
      telemetry.connections().find((c) => c.attributes[ATTR_CONNECTION_ID] === first.attributes[ATTR_CONNECTION_ID]),
    );
    assert.equal(connection.attributes[ATTR_TRANSPORT], TRANSPORT.SSE);
    assert.equal(connection.attributes[CONNECTION.RESPONSES], 2);
    assert.equal(typeof connection.attributes[CONNECTION.CONNECT_MS], 'number');
    assert.equal(typeof connection.attributes[CONNECTION.TCP_MS], 'number');
  });

  it('leaves non-streaming responses alone', async () => {
    const spansBefore = telemetry.exporter.getFinishedSpans().length;
    const response = await fetch(`${suite.server.httpURL}/not-a-model`);
    assert.equal(response.status, 404);
    assert.ok(response instanceof Response);
    await response.arrayBuffer();
    assert.equal(telemetry.exporter.getFinishedSpans().length, spansBefore);
  });
});
