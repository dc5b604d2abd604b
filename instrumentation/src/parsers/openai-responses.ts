import { GEN_AI_PROVIDER_NAME_VALUE_OPENAI } from '@opentelemetry/semantic-conventions/incubating';
import { API, OUTCOME, type Outcome } from '../contract.ts';
import { EVENT_CLASS, type ControlEvent, type EventClass, type ProtocolParser, type RequestInfo } from '../internal-types.ts';
import { asNumber, asRecord, asString, eventType, isResponseDelta, parseObject } from './json-scan.ts';

const TERMINAL: Record<string, Outcome> = {
  'response.completed': OUTCOME.COMPLETED,
  'response.incomplete': OUTCOME.INCOMPLETE,
  'response.failed': OUTCOME.FAILED,
  error: OUTCOME.FAILED,
};
const CONTROL_TYPES = new Set(['response.created', 'response.in_progress', ...Object.keys(TERMINAL)]);

/** Reads the `response` object that created/completed/failed events carry. */
export function responseObjectControl(
  response: Record<string, unknown> | undefined,
): Omit<ControlEvent, 'starts' | 'outcome'> {
  const usage = asRecord(response?.usage);
  const incomplete = asString(asRecord(response?.incomplete_details)?.reason);
  const status = asString(response?.status);
  return {
    responseId: asString(response?.id),
    model: asString(response?.model),
    inputTokens: asNumber(usage?.input_tokens),
    outputTokens: asNumber(usage?.output_tokens),
    finishReasons: incomplete ? [incomplete] : status && status !== 'in_progress' ? [status] : undefined,
  };
}

/** Model and input of a `response.create` message or a `POST /v1/responses` body. */
export function responseCreateRequest(body: string, wsEventType: string): RequestInfo | undefined {
  // Typed before parsing: Realtime clients stream large audio appends that need no parse.
  const type = eventType(body);
  if (type !== undefined && type !== wsEventType) return { createsResponse: false };
  const message = parseObject(body);
  if (!message) return undefined;
  // Realtime nests the parameters under `response`; Responses puts them at the top level.
  const params = asRecord(message.response) ?? message;
  return { createsResponse: true, model: asString(params.model), input: params.input ?? params.instructions };
}

/**
 * OpenAI Responses API, over WebSocket (`response.create` → server events) and over SSE
 * (the same events as `data:` lines). Deltas are recognised from the type alone.
 */
export const openaiResponsesParser: ProtocolParser = {
  api: API.OPENAI_RESPONSES,
  provider: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  endOfStreamOutcome: OUTCOME.CONNECTION_LOST,

  classify(data: string): EventClass {
    if (isResponseDelta(data)) return EVENT_CLASS.OUTPUT;
    const type = eventType(data);
    return type !== undefined && CONTROL_TYPES.has(type) ? EVENT_CLASS.CONTROL : EVENT_CLASS.IGNORE;
  },

  parseControl(data: string): ControlEvent | undefined {
    // The outcome follows from the type alone, so a truncated or malformed terminal event still ends the response.
    const type = eventType(data);
    if (type === undefined) return undefined;
    const event = parseObject(data);
    if (type === 'error') {
      return { outcome: OUTCOME.FAILED, responseId: asString(event?.response_id) };
    }
    return {
      ...responseObjectControl(asRecord(event?.response)),
      starts: type === 'response.created',
      outcome: TERMINAL[type],
    };
  },

  parseRequest: (body) => responseCreateRequest(body, 'response.create'),

  outputText(data: string): string | undefined {
    return asString(parseObject(data)?.delta);
  },
};
