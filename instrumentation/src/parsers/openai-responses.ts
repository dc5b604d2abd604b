import { GEN_AI_PROVIDER_NAME_VALUE_OPENAI } from '@opentelemetry/semantic-conventions/incubating';
import { API, OUTCOME, type Outcome } from '../contract.ts';
import { EVENT_CLASS, type ControlEvent, type EventClass, type ProtocolParser, type RequestInfo } from '../internal-types.ts';
import { memberStart, readMembers, type JsonMembers } from './json-members.ts';
import { asNumber, asRecord, asString, eventType, isResponseDelta, parseObject } from './json-scan.ts';

const TERMINAL: Record<string, Outcome> = {
  'response.completed': OUTCOME.COMPLETED,
  'response.incomplete': OUTCOME.INCOMPLETE,
  'response.failed': OUTCOME.FAILED,
  error: OUTCOME.FAILED,
};
const CONTROL_TYPES = new Set(['response.created', 'response.in_progress', ...Object.keys(TERMINAL)]);

/** Members of a `response` object that terminal events are read for. */
const RESPONSE_KEYS = new Set(['id', 'model', 'status', 'usage', 'incomplete_details']);
/**
 * Members of a `response` object that opening events are read for: they precede the
 * echoed output and tools, which are then not walked.
 */
const OPENING_RESPONSE_KEYS = new Set(['id', 'model']);
const ERROR_KEYS = new Set(['response_id']);

/**
 * The `response` object that created/completed/failed events carry, its echoed
 * instructions, tools and output passed over unparsed. `opening`: a created or in-progress
 * event, read for its id and model only.
 */
export function responseObject(data: string, opening: boolean): JsonMembers | undefined {
  const at = memberStart(data, 'response');
  return at < 0 ? undefined : readMembers(data, opening ? OPENING_RESPONSE_KEYS : RESPONSE_KEYS, at);
}

/** What a `response` object says of its response. */
export function responseObjectControl(response: JsonMembers | undefined): Omit<ControlEvent, 'starts' | 'outcome'> {
  const usage = asRecord(response?.value('usage'));
  const incomplete = asString(asRecord(response?.value('incomplete_details'))?.reason);
  const status = asString(response?.value('status'));
  return {
    responseId: asString(response?.value('id')),
    model: asString(response?.value('model')),
    inputTokens: asNumber(usage?.input_tokens),
    outputTokens: asNumber(usage?.output_tokens),
    finishReasons: incomplete ? [incomplete] : status && status !== 'in_progress' ? [status] : undefined,
  };
}

const PARAMS_KEYS = new Set(['type', 'model']);
const PARAMS_KEYS_WITH_INPUT = new Set([...PARAMS_KEYS, 'input', 'instructions']);
const NESTING_KEYS = new Set(['type', 'response']);
/** A message whose first member is its type, as every client sends it. */
const LEADING_TYPE = '{"type":"';

/**
 * Model (and, if asked, input) of a `response.create` message or a `POST /v1/responses`
 * body. `nested`: the parameters sit in a `response` member (Realtime), not at the top
 * level with the type (Responses).
 */
export function responseCreateRequest(body: string, nested: boolean, withInput: boolean): RequestInfo | undefined {
  // Every client sends the type first: Realtime's audio appends, large, are passed over unwalked.
  if (body.startsWith(LEADING_TYPE) && !body.startsWith('response.create"', LEADING_TYPE.length)) return { createsResponse: false };
  const paramsKeys = withInput ? PARAMS_KEYS_WITH_INPUT : PARAMS_KEYS;
  const message = readMembers(body, nested ? NESTING_KEYS : paramsKeys);
  if (!message) return undefined;
  const type = message.value('type');
  if (type !== undefined && type !== 'response.create') return { createsResponse: false };
  const params = nested ? readMembers(body, paramsKeys, message.start('response')) : message;
  const input = params?.raw('input');
  return {
    createsResponse: true,
    model: asString(params?.value('model')),
    input: withInput ? (input !== undefined && input !== 'null' ? input : params?.raw('instructions')) : undefined,
  };
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
    if (type === 'error') {
      return { outcome: OUTCOME.FAILED, responseId: asString(readMembers(data, ERROR_KEYS)?.value('response_id')) };
    }
    return {
      ...responseObjectControl(responseObject(data, TERMINAL[type] === undefined)),
      starts: type === 'response.created',
      outcome: TERMINAL[type],
    };
  },

  parseRequest: (body, withInput) => responseCreateRequest(body, false, withInput),

  outputText(data: string): string | undefined {
    return asString(parseObject(data)?.delta);
  },
};
