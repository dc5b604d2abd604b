import { randomUUID } from 'node:crypto';
import type { StreamEncoder } from './playback.ts';
import { INJECTED_FAILURE_MESSAGE, type TokenSchedule } from './schedule.ts';

/** One server event of the Responses API, as sent over WebSocket or SSE. */
export interface ResponsesEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

/** The body of `POST /v1/responses`, or of a WebSocket `response.create` without its `type`. */
export interface ResponsesRequest {
  model?: unknown;
  input?: unknown;
  instructions?: unknown;
  previous_response_id?: unknown;
  metadata?: unknown;
  stream?: unknown;
}

export const SCHEDULE_SEED_METADATA_KEY = 'mock_schedule_seed';

export function newResponseId(): string {
  return `resp_${randomUUID().replaceAll('-', '')}`;
}

/** A rough token count: the mock only needs a stable, plausible `usage.input_tokens`. */
export function estimateInputTokens(input: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(input ?? '').length / 4));
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function outputText(text: string) {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

/**
 * Encodes a schedule as the Responses API event sequence. Every lifecycle event carries the
 * full response object because the official client rejects lifecycle events without one.
 */
export function createResponsesEncoder(
  responseId: string,
  request: ResponsesRequest,
  schedule: TokenSchedule,
  send: (event: ResponsesEvent) => void,
): StreamEncoder {
  const itemId = `msg_${responseId.slice('resp_'.length)}`;
  const model = typeof request.model === 'string' ? request.model : 'mock-model';
  const createdAt = Math.floor(Date.now() / 1000);
  const inputTokens = estimateInputTokens(request.input);
  let sequence = 0;
  let text = '';

  const emit = (type: string, fields: Record<string, unknown>) => send({ type, sequence_number: sequence++, ...fields });
  const response = (status: string, extra: Record<string, unknown> = {}) => ({
    id: responseId,
    object: 'response',
    created_at: createdAt,
    status,
    model,
    output: [],
    output_text: '',
    error: null,
    incomplete_details: null,
    instructions: typeof request.instructions === 'string' ? request.instructions : null,
    metadata: { ...stringRecord(request.metadata), [SCHEDULE_SEED_METADATA_KEY]: String(schedule.seed) },
    parallel_tool_calls: true,
    previous_response_id: typeof request.previous_response_id === 'string' ? request.previous_response_id : null,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    usage: null,
    ...extra,
  });
  const position = { item_id: itemId, output_index: 0, content_index: 0 };
  const messageItem = (status: string, content: unknown[]) => ({ id: itemId, type: 'message', status, role: 'assistant', content });

  return {
    open() {
      emit('response.created', { response: response('in_progress') });
      emit('response.in_progress', { response: response('in_progress') });
    },
    token(index, delta) {
      if (index === 0) {
        emit('response.output_item.added', { output_index: 0, item: messageItem('in_progress', []) });
        emit('response.content_part.added', { ...position, part: outputText('') });
      }
      text += delta;
      emit('response.output_text.delta', { ...position, delta, logprobs: [] });
    },
    fail() {
      emit('response.failed', {
        response: response('failed', { error: { code: 'server_error', message: INJECTED_FAILURE_MESSAGE } }),
      });
    },
    complete() {
      const item = messageItem('completed', [outputText(text)]);
      emit('response.output_text.done', { ...position, text, logprobs: [] });
      emit('response.content_part.done', { ...position, part: outputText(text) });
      emit('response.output_item.done', { output_index: 0, item });
      const outputTokens = schedule.tokens.length;
      const usage = {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + outputTokens,
      };
      emit('response.completed', { response: response('completed', { output: [item], output_text: text, usage }) });
    },
  };
}
