import { randomUUID } from 'node:crypto';
import type { StreamEncoder } from './playback.ts';
import { estimateInputTokens } from './responses-events.ts';
import { INJECTED_FAILURE_MESSAGE, type TokenSchedule } from './schedule.ts';

/** The fields of a `POST /v1/chat/completions` body the mock reads. */
export interface ChatCompletionsRequest {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
}

export function newChatCompletionId(): string {
  return `chatcmpl-${randomUUID().replaceAll('-', '')}`;
}

function modelOf(request: ChatCompletionsRequest): string {
  return typeof request.model === 'string' ? request.model : 'mock-model';
}

function usageOf(request: ChatCompletionsRequest, schedule: TokenSchedule) {
  const promptTokens = estimateInputTokens(request.messages);
  const completionTokens = schedule.tokens.length;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** The JSON body answering a non-stream request whose schedule completed. */
export function chatCompletionBody(completionId: string, request: ChatCompletionsRequest, schedule: TokenSchedule) {
  return {
    id: completionId,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: modelOf(request),
    system_fingerprint: 'fp_mock',
    choices: [{ index: 0, message: { role: 'assistant', content: schedule.tokens.join(''), refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: usageOf(request, schedule),
  };
}

/**
 * Encodes a schedule as Chat Completions chunks. `send(null)` marks the end of the stream
 * (the SSE layer turns it into `data: [DONE]`). A failure after the headers are out can only
 * be reported in-band, as the `error` payload OpenAI itself sends mid-stream.
 */
export function createChatCompletionsEncoder(
  completionId: string,
  request: ChatCompletionsRequest,
  schedule: TokenSchedule,
  send: (chunk: Record<string, unknown> | null) => void,
): StreamEncoder {
  const model = modelOf(request);
  const created = Math.floor(Date.now() / 1000);
  const includeUsage = request.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    send({ id: completionId, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock', choices, ...extra });
  const choice = (delta: Record<string, unknown>, finishReason: string | null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finishReason,
  });

  return {
    open() {
      chunk([choice({ role: 'assistant', content: '' }, null)]);
    },
    token(_index, text) {
      chunk([choice({ content: text }, null)]);
    },
    fail() {
      send({ error: { message: INJECTED_FAILURE_MESSAGE, type: 'server_error', code: 'server_error', param: null } });
      send(null);
    },
    complete() {
      chunk([choice({}, 'stop')]);
      if (includeUsage) chunk([], { usage: usageOf(request, schedule) });
      send(null);
    },
  };
}
