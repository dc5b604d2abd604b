import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { APIError } from 'openai';
import WebSocket from 'ws';
import { SCHEDULE_SEED_HEADER } from '../mock-server/http-handlers.ts';
import { createMockModelServer, type MockModelServer } from '../mock-server/mock-model-server.ts';
import { SCHEDULE_SEED_METADATA_KEY } from '../mock-server/responses-events.ts';
import { scheduleFromSeed, type ScheduleConfig, type TokenSchedule } from '../mock-server/schedule.ts';
import { streamOverSse } from '../load-generator/sse-stream.ts';
import { percentile } from '../load-generator/latency-stats.ts';
import type { StreamTiming } from '../load-generator/stream-timing.ts';
import { openResponsesSocket, streamOverWebSocket } from '../load-generator/websocket-stream.ts';

/** Timers run on whole milliseconds, so a token may show up that much before its exact offset. */
const EARLY_MS = 2;
const TOLERANCE_MS = 30;
/** Far beyond any scheduling jitter: only a token from the wrong schedule would be this late. */
const MAX_LATE_MS = 300;

const SCHEDULE: Partial<ScheduleConfig> = {
  ttftMs: { kind: 'uniform', min: 60, max: 250 },
  interTokenMs: { kind: 'uniform', min: 5, max: 60 },
  outputTokens: { kind: 'uniform', min: 6, max: 12 },
};

/**
 * How well client-side arrivals follow the injected schedule. A token can never arrive before
 * its scheduled offset from the request (the client's clock starts first), so that bound is
 * strict; lateness is judged by its median, because one stall of a busy machine's event loop
 * delays whichever tokens were due during it.
 */
function assertFollowsSchedule(timings: StreamTiming[], scheduleFor: (id: string) => TokenSchedule | undefined): void {
  const lateness: number[] = [];
  for (const timing of timings) {
    const schedule = scheduleFor(timing.responseId ?? '');
    assert.ok(schedule, `the server remembers the schedule of ${timing.responseId}`);
    assert.equal(timing.error, null);
    assert.equal(timing.tokenArrivals.length, schedule.tokens.length);
    let dueMs = schedule.ttftMs;
    timing.tokenArrivals.forEach((arrival, i) => {
      if (i > 0) dueMs += schedule.gapsMs[i - 1];
      const late = arrival - timing.sentAt - dueMs;
      assert.ok(late >= -EARLY_MS, `token ${i} arrived ${(-late).toFixed(1)} ms before its schedule`);
      assert.ok(late <= MAX_LATE_MS, `token ${i} arrived ${late.toFixed(1)} ms late`);
      lateness.push(late);
    });
  }
  const median = percentile(lateness.sort((a, b) => a - b), 50)!;
  assert.ok(median <= TOLERANCE_MS, `median lateness ${median.toFixed(1)} ms`);
}

describe('mock model server', () => {
  let server: MockModelServer;
  let client: OpenAI;
  const request = { model: 'mock-small', input: 'Say something.' };

  before(async () => {
    server = await createMockModelServer({ seed: 42, schedule: SCHEDULE });
    client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
    // The first request of a process pays for lazy module loading and JIT, which is client
    // time the server's schedule cannot account for.
    await streamOverSse(client, request);
    const socket = await openResponsesSocket(client);
    await streamOverWebSocket(socket, request);
    socket.close();
  });
  after(() => server.close());

  test('SSE streams follow the injected schedule', async () => {
    const timings: StreamTiming[] = [];
    for (let i = 0; i < 3; i++) timings.push(await streamOverSse(client, request));
    assertFollowsSchedule(timings, server.scheduleFor);
  });

  test('one WebSocket carries several responses, each following its schedule', async () => {
    const socket = await openResponsesSocket(client);
    try {
      const timings: StreamTiming[] = [];
      for (let i = 0; i < 3; i++) {
        timings.push(await streamOverWebSocket(socket, { ...request, previous_response_id: timings.at(-1)?.responseId ?? null }));
      }
      assertFollowsSchedule(timings, server.scheduleFor);
    } finally {
      socket.close();
    }
  });

  test('the official client accepts the SSE event sequence and rebuilds the response', async () => {
    const stream = client.responses.stream({ ...request, metadata: { run: 'shape' } });
    const seen = new Set<string>();
    for await (const event of stream) seen.add(event.type);
    const response = await stream.finalResponse();
    const schedule = server.scheduleFor(response.id);
    assert.ok(schedule);
    assert.equal(response.output_text, schedule.tokens.join(''));
    assert.equal(response.usage?.output_tokens, schedule.tokens.length);
    assert.equal(response.usage?.total_tokens, (response.usage?.input_tokens ?? 0) + schedule.tokens.length);
    assert.equal(response.model, 'mock-small');
    assert.deepEqual(response.metadata, { run: 'shape', [SCHEDULE_SEED_METADATA_KEY]: String(schedule.seed) });
    for (const type of ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done', 'response.completed']) {
      assert.ok(seen.has(type), `saw ${type}`);
    }
  });

  test('the schedule seed travels in a header and reproduces the schedule', async () => {
    const { data: stream, response } = await client.responses.create({ ...request, stream: true }).withResponse();
    let id = '';
    for await (const event of stream) if (event.type === 'response.completed') id = event.response.id;
    const seed = Number(response.headers.get(SCHEDULE_SEED_HEADER));
    const schedule = server.scheduleFor(id);
    assert.equal(schedule?.seed, seed);
    assert.deepEqual(scheduleFromSeed(seed, { ...(await import('../mock-server/schedule.ts')).DEFAULT_SCHEDULE_CONFIG, ...SCHEDULE }), schedule);
  });

  test('WebSocket responses complete with text, usage and the chained previous_response_id', async () => {
    const socket = await openResponsesSocket(client);
    try {
      const completed = new Promise<OpenAI.Responses.Response>((resolve) => socket.on('response.completed', (event) => resolve(event.response)));
      socket.send({ type: 'response.create', ...request, previous_response_id: 'resp_earlier' });
      const response = await completed;
      const schedule = server.scheduleFor(response.id);
      assert.equal(response.output_text, schedule?.tokens.join(''));
      assert.equal(response.previous_response_id, 'resp_earlier');
      assert.equal(response.usage?.output_tokens, schedule?.tokens.length);
    } finally {
      socket.close();
    }
  });

  test('Chat Completions streams chunks, a usage chunk on request, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-small',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let id = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      id = chunk.id;
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    const schedule = server.scheduleFor(id);
    assert.equal(text, schedule?.tokens.join(''));
    assert.equal(usage?.completion_tokens, schedule?.tokens.length);
  });

  test('non-stream requests get a JSON body', async () => {
    const response = await client.responses.create(request);
    assert.equal(response.status, 'completed');
    assert.equal(response.output_text, server.scheduleFor(response.id)?.tokens.join(''));
    const completion = await client.chat.completions.create({ model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(completion.choices[0].message.content, server.scheduleFor(completion.id)?.tokens.join(''));
  });

  test('a malformed WebSocket message gets an error event and the socket stays usable', async () => {
    const socket = new WebSocket(server.wsUrl);
    const messages: { type: string }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send('not json');
    socket.send(JSON.stringify({ type: 'session.update' }));
    socket.send(JSON.stringify({ type: 'response.create', ...request }));
    await new Promise<void>((resolve) => socket.on('message', () => messages.at(-1)?.type === 'response.completed' && resolve()));
    socket.close();
    assert.deepEqual(messages.slice(0, 2).map((m) => m.type), ['error', 'error']);
  });
});

describe('mock model server error injection', () => {
  let server: MockModelServer;
  let client: OpenAI;

  before(async () => {
    server = await createMockModelServer({ schedule: { ...SCHEDULE, ttftMs: { kind: 'constant', value: 5 }, errorRate: 1 } });
    client = new OpenAI({ baseURL: server.url, apiKey: 'test', maxRetries: 0 });
  });
  after(() => server.close());

  test('streams end with response.failed over SSE and WebSocket', async () => {
    assert.equal((await streamOverSse(client, { model: 'm', input: 'x' })).error, 'response.failed');
    const socket = await openResponsesSocket(client);
    assert.equal((await streamOverWebSocket(socket, { model: 'm', input: 'x' })).error, 'response.failed');
    socket.close();
  });

  test('a WebSocket closed mid-response ends the response with an error, and a closed one refuses more', async () => {
    const slow = await createMockModelServer({ schedule: { ...SCHEDULE, ttftMs: { kind: 'constant', value: 5000 } } });
    const socket = await openResponsesSocket(new OpenAI({ baseURL: slow.url, apiKey: 'test', maxRetries: 0 }));
    const pending = streamOverWebSocket(socket, { model: 'm', input: 'x' });
    await slow.close();
    assert.equal((await pending).error, 'socket closed mid-response');
    assert.equal((await streamOverWebSocket(socket, { model: 'm', input: 'x' })).error, 'socket not open');
  });

  test('non-stream requests fail with HTTP 500, chat streams with an error chunk', async () => {
    await assert.rejects(client.responses.create({ model: 'm', input: 'x' }), (error) => error instanceof APIError && error.status === 500);
    await assert.rejects(async () => {
      const stream = await client.chat.completions.create({ model: 'm', messages: [], stream: true });
      for await (const chunk of stream) void chunk;
    }, APIError);
  });
});
