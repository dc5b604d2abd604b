import { GEN_AI_PROVIDER_NAME_VALUE_OPENAI } from '@opentelemetry/semantic-conventions/incubating';
import { API, OUTCOME, type Outcome } from '../contract.ts';
import { EVENT_CLASS, type ControlEvent, type EventClass, type ProtocolParser } from '../internal-types.ts';
import { asString, eventType, isResponseDelta, stringField } from './json-scan.ts';
import { openaiResponsesParser, responseCreateRequest, responseObject, responseObjectControl } from './openai-responses.ts';

const DONE_STATUS: Record<string, Outcome> = {
  completed: OUTCOME.COMPLETED,
  incomplete: OUTCOME.INCOMPLETE,
  failed: OUTCOME.FAILED,
  cancelled: OUTCOME.ABORTED,
};

/**
 * OpenAI Realtime API (WebSocket). Responses open with `response.created` and close with
 * `response.done`, whose status gives the outcome; deltas carry `response_id`, so
 * concurrent responses on one session are told apart.
 */
export const openaiRealtimeParser: ProtocolParser = {
  api: API.OPENAI_REALTIME,
  provider: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  endOfStreamOutcome: OUTCOME.CONNECTION_LOST,

  classify(data: string): EventClass {
    if (isResponseDelta(data)) return EVENT_CLASS.OUTPUT;
    const type = eventType(data);
    return type === 'response.created' || type === 'response.done' ? EVENT_CLASS.CONTROL : EVENT_CLASS.IGNORE;
  },

  parseControl(data: string): ControlEvent | undefined {
    const type = eventType(data);
    if (type === undefined) return undefined;
    const response = responseObject(data, type === 'response.created');
    const control: ControlEvent = {
      ...responseObjectControl(response),
      starts: type === 'response.created',
    };
    control.responseId ??= stringField(data, 'id');
    if (type === 'response.done') control.outcome = DONE_STATUS[asString(response?.value('status')) ?? ''] ?? OUTCOME.COMPLETED;
    return control;
  },

  parseRequest: (body, withInput) => responseCreateRequest(body, true, withInput),
  outputText: openaiResponsesParser.outputText,
};
