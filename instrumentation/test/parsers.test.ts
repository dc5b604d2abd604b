import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OUTCOME } from '../src/contract.ts';
import { EVENT_CLASS } from '../src/internal-types.ts';
import { anthropicMessagesParser } from '../src/parsers/anthropic-messages.ts';
import { chatCompletionsParser } from '../src/parsers/chat-completions.ts';
import { genericParser } from '../src/parsers/generic.ts';
import { openaiRealtimeParser } from '../src/parsers/openai-realtime.ts';
import { openaiResponsesParser } from '../src/parsers/openai-responses.ts';
import { parserForFirstMessage, parserForPath } from '../src/parsers/select.ts';
import { SseLineSplitter } from '../src/sse/line-splitter.ts';

describe('protocol parsers', () => {
  it('picks the parser from the URL path or the first message', () => {
    assert.equal(parserForPath('/v1/responses'), openaiResponsesParser);
    assert.equal(parserForPath('/v1/realtime'), openaiRealtimeParser);
    assert.equal(parserForPath('/openai/v1/chat/completions'), chatCompletionsParser);
    assert.equal(parserForPath('/v1/messages'), anthropicMessagesParser);
    assert.equal(parserForPath('/stream'), genericParser);
    assert.equal(parserForFirstMessage('{"type":"response.create"}'), openaiResponsesParser);
    assert.equal(parserForFirstMessage('{"type":"session.created"}'), openaiRealtimeParser);
    assert.equal(parserForFirstMessage('hello'), undefined);
  });

  it('counts every Responses *.delta as output and never the control events', () => {
    const classify = (type: string) => openaiResponsesParser.classify(`{"type":"${type}","sequence_number":1}`);
    for (const type of ['response.output_text.delta', 'response.refusal.delta', 'response.function_call_arguments.delta', 'response.audio.delta', 'response.reasoning_summary_text.delta']) {
      assert.equal(classify(type), EVENT_CLASS.OUTPUT, type);
    }
    for (const type of ['response.created', 'response.in_progress', 'response.completed', 'response.incomplete', 'response.failed', 'error']) {
      assert.equal(classify(type), EVENT_CLASS.CONTROL, type);
    }
    assert.equal(classify('response.output_item.added'), EVENT_CLASS.IGNORE);
    assert.equal(classify('response.output_text.done'), EVENT_CLASS.IGNORE);
  });

  it('reads outcome, usage and model from Responses terminal events, even truncated ones', () => {
    const incomplete = openaiResponsesParser.parseControl(
      '{"type":"response.incomplete","response":{"id":"r1","model":"m","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":3,"output_tokens":9}}}',
    );
    assert.deepEqual(incomplete, {
      responseId: 'r1',
      model: 'm',
      inputTokens: 3,
      outputTokens: 9,
      finishReasons: ['max_output_tokens'],
      starts: false,
      outcome: OUTCOME.INCOMPLETE,
    });
    assert.equal(openaiResponsesParser.parseControl('{"type":"response.failed","respo')?.outcome, OUTCOME.FAILED);
    assert.equal(openaiResponsesParser.parseControl('{"type":"error","error":{}}')?.outcome, OUTCOME.FAILED);
  });

  it('reads a full-size Responses event for its own fields, not ones its echoed tools and output contain', () => {
    const tools = [{ type: 'function', name: 'report', parameters: { type: 'object', properties: { usage: { input_tokens: { type: 'integer' } }, model: { type: 'string' } } } }];
    const text = 'The reply quotes {"usage":{"input_tokens":999},"model":"fake"} and ends with a backslash \\';
    const response = {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      incomplete_details: null,
      instructions: 'Be brief. '.repeat(2000),
      model: 'gpt-4.1-2025-04-14',
      output: [{ type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }],
      tools,
      usage: { input_tokens: 5012, input_tokens_details: { cached_tokens: 0 }, output_tokens: 7, total_tokens: 5019 },
      metadata: { usage: 'a string' },
    };
    const completed = JSON.stringify({ type: 'response.completed', response, sequence_number: 12 });
    assert.deepEqual(openaiResponsesParser.parseControl(completed), {
      responseId: 'resp_1',
      model: 'gpt-4.1-2025-04-14',
      inputTokens: 5012,
      outputTokens: 7,
      finishReasons: ['completed'],
      starts: false,
      outcome: OUTCOME.COMPLETED,
    });
    const created = JSON.stringify({ type: 'response.created', sequence_number: 0, response: { ...response, status: 'in_progress', output: [], usage: null } });
    assert.deepEqual(openaiResponsesParser.parseControl(created), { responseId: 'resp_1', model: 'gpt-4.1-2025-04-14', inputTokens: undefined, outputTokens: undefined, finishReasons: undefined, starts: true, outcome: undefined });
  });

  it('reads the request model whatever the prompt and tools hold, and the prompt only when asked', () => {
    const tools = [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: { model: { type: 'string' } } } }];
    const input = [{ type: 'message', role: 'user', content: 'Which "model" are you?' }];
    const body = JSON.stringify({ input, tools, model: 'gpt-4.1', stream: true });
    assert.deepEqual(openaiResponsesParser.parseRequest(body, false), { createsResponse: true, model: 'gpt-4.1', input: undefined });
    assert.deepEqual(JSON.parse(openaiResponsesParser.parseRequest(body, true)?.input ?? ''), input);
    assert.equal(openaiResponsesParser.parseRequest(JSON.stringify({ instructions: 'Be brief.', input: null, model: 'm' }), true)?.input, '"Be brief."');
    assert.deepEqual(openaiResponsesParser.parseRequest('{"type":"input_audio_buffer.append","audio":"AAAA"}', false), { createsResponse: false });
    const realtime = openaiRealtimeParser.parseRequest(JSON.stringify({ type: 'response.create', response: { instructions: 'Say hi', model: 'gpt-realtime' } }), true);
    assert.deepEqual(realtime, { createsResponse: true, model: 'gpt-realtime', input: '"Say hi"' });

    const messages = [{ role: 'user', content: '{"model":"fake"}' }];
    const chat = JSON.stringify({ messages, tools: tools.map((tool) => ({ type: 'function', function: tool })), model: 'gpt-4o' });
    assert.deepEqual(chatCompletionsParser.parseRequest(chat, false), { createsResponse: true, model: 'gpt-4o', input: undefined });
    assert.deepEqual(JSON.parse(anthropicMessagesParser.parseRequest(chat, true)?.input ?? ''), messages);
    assert.deepEqual(genericParser.parseRequest('not json', false), { createsResponse: true, model: undefined, input: undefined });
  });

  it('reads Realtime response.done status as the outcome', () => {
    const done = openaiRealtimeParser.parseControl('{"type":"response.done","response":{"id":"r","status":"cancelled"}}');
    assert.equal(done?.outcome, OUTCOME.ABORTED);
    assert.equal(openaiRealtimeParser.classify('{"type":"conversation.item.input_audio_transcription.delta"}'), EVENT_CLASS.IGNORE);
  });

  it('tells Chat Completions content chunks from role-only and final chunks', () => {
    const chunk = (delta: string, finish = 'null') => `{"id":"c","model":"m","choices":[{"index":0,"delta":${delta},"finish_reason":${finish}}]}`;
    assert.equal(chatCompletionsParser.classify(chunk('{"role":"assistant","content":""}')), EVENT_CLASS.IGNORE);
    assert.equal(chatCompletionsParser.classify(chunk('{"content":"Hi"}')), EVENT_CLASS.OUTPUT);
    assert.equal(chatCompletionsParser.classify(chunk('{"tool_calls":[{"function":{"arguments":"{\\""}}]}')), EVENT_CLASS.OUTPUT);
    assert.equal(chatCompletionsParser.classify(chunk('{"content":"!"}', '"length"')), EVENT_CLASS.OUTPUT_AND_CONTROL);
    assert.equal(chatCompletionsParser.classify(chunk('{"reasoning_content":"hmm"}')), EVENT_CLASS.OUTPUT);
    // Several choices in one chunk: output in any of them counts.
    assert.equal(chatCompletionsParser.classify('{"id":"c","choices":[{"index":0,"delta":{"content":"A"}},{"index":1,"delta":{"content":""}}]}'), EVENT_CLASS.OUTPUT);
    // With stream_options.include_usage every chunk names usage, null until the last.
    assert.equal(chatCompletionsParser.classify('{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}'), EVENT_CLASS.OUTPUT);
    assert.equal(chatCompletionsParser.classify('{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}'), EVENT_CLASS.CONTROL);
    assert.equal(chatCompletionsParser.parseControl(chunk('{}', '"length"'))?.outcome, OUTCOME.INCOMPLETE);
    assert.equal(chatCompletionsParser.parseControl('[DONE]')?.outcome, OUTCOME.COMPLETED);
  });

  it('counts Anthropic content deltas except signatures', () => {
    assert.equal(anthropicMessagesParser.classify('{"type":"content_block_delta","delta":{"type":"text_delta","text":"a"}}', 'content_block_delta'), EVENT_CLASS.OUTPUT);
    assert.equal(anthropicMessagesParser.classify('{"type":"content_block_delta","delta":{"type":"signature_delta","signature":"x"}}'), EVENT_CLASS.IGNORE);
    const delta = anthropicMessagesParser.parseControl('{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":7}}');
    assert.deepEqual(delta, { outputTokens: 7, finishReasons: ['max_tokens'], outcome: OUTCOME.INCOMPLETE });
  });
});

describe('SSE line splitter', () => {
  function split(chunks: string[], maxEventChars = 1024): [string, string | undefined][] {
    const events: [string, string | undefined][] = [];
    const splitter = new SseLineSplitter(maxEventChars, (data, name) => events.push([data, name]));
    const encoder = new TextEncoder();
    for (const chunk of chunks) splitter.push(encoder.encode(chunk));
    splitter.end();
    return events;
  }

  it('assembles events split anywhere, including inside a multi-byte character', () => {
    const bytes = new TextEncoder().encode('event: a\r\ndata: {"x":"é"}\r\n\r\ndata: 1\ndata: 2\n\n');
    const events: [string, string | undefined][] = [];
    const splitter = new SseLineSplitter(1024, (data, name) => events.push([data, name]));
    for (const byte of bytes) splitter.push(Uint8Array.of(byte));
    assert.deepEqual(events, [
      ['{"x":"é"}', 'a'],
      ['1\n2', undefined],
    ]);
  });

  it('ignores comments and unknown fields, and flushes an unterminated last event', () => {
    assert.deepEqual(split([': ping\n\nid: 3\nretry: 10\ndata: x\n\n', 'data: [DONE]']), [
      ['x', undefined],
      ['[DONE]', undefined],
    ]);
  });

  it('keeps only the head of an oversized line and resumes after it', () => {
    const huge = `data: {"type":"response.completed",${'x'.repeat(5000)}}\n\n`;
    const events = split([huge.slice(0, 2000), huge.slice(2000), 'data: next\n\n'], 1024);
    assert.equal(events.length, 2);
    assert.ok(events[0][0].startsWith('{"type":"response.completed"'));
    assert.ok(events[0][0].length <= 1024);
    assert.deepEqual(events[1], ['next', undefined]);
  });
});
