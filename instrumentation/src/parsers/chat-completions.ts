import { GEN_AI_PROVIDER_NAME_VALUE_OPENAI } from '@opentelemetry/semantic-conventions/incubating';
import { API, OUTCOME } from '../contract.ts';
import { EVENT_CLASS, type ControlEvent, type EventClass, type ProtocolParser } from '../internal-types.ts';
import { requestBody } from './request-body.ts';
import { asNumber, asRecord, asString, indexOfQuoted, lastNonEmptyValueStart, parseObject } from './json-scan.ts';

const DONE = '[DONE]';
/** `"finish_reason":"` and `"usage":{`, their opening quote matched by indexOfQuoted. */
const FINISH_REASON_STRING = 'finish_reason":"';
const USAGE_OBJECT = 'usage":{';
/** Fields of a chunk's `delta` that carry generated output, as `key":"` needles built once, not per event. */
const OUTPUT_NEEDLES = ['content', 'arguments', 'refusal', 'reasoning_content'].map((field) => `${field}":"`);

/**
 * OpenAI Chat Completions SSE (`chat.completion.chunk` objects, then `[DONE]`). The first
 * chunk usually carries only the role, so output is recognised by a non-empty content,
 * tool-argument or refusal string; chunks are parsed only when they carry a finish reason
 * or usage.
 */
export const chatCompletionsParser: ProtocolParser = {
  api: API.OPENAI_CHAT_COMPLETIONS,
  provider: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  endOfStreamOutcome: OUTCOME.CONNECTION_LOST,

  classify(data: string): EventClass {
    if (data.startsWith(DONE)) return EVENT_CLASS.CONTROL;
    let output: EventClass = EVENT_CLASS.IGNORE;
    let rest = 0;
    for (const needle of OUTPUT_NEEDLES) {
      const value = lastNonEmptyValueStart(data, needle);
      if (value >= 0) {
        output = EVENT_CLASS.OUTPUT;
        rest = value;
        break;
      }
    }
    // The last content chunk may also carry the finish reason, hence both flags. A choice's
    // finish reason and the chunk's usage come after its delta, so only the rest is searched:
    // each full search costs as much as the output one.
    const control = indexOfQuoted(data, FINISH_REASON_STRING, rest) >= 0 || indexOfQuoted(data, USAGE_OBJECT, rest) >= 0 ? EVENT_CLASS.CONTROL : 0;
    return (control | output) as EventClass;
  },

  parseControl(data: string): ControlEvent | undefined {
    if (data.startsWith(DONE)) return { outcome: OUTCOME.COMPLETED };
    const chunk = parseObject(data);
    if (!chunk) return undefined;
    const usage = asRecord(chunk.usage);
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    const finishReasons = choices.map((c) => asString(asRecord(c)?.finish_reason)).filter((r) => r !== undefined);
    return {
      responseId: asString(chunk.id),
      model: asString(chunk.model),
      inputTokens: asNumber(usage?.prompt_tokens),
      outputTokens: asNumber(usage?.completion_tokens),
      finishReasons: finishReasons.length ? finishReasons : undefined,
      outcome: finishReasons.length
        ? finishReasons.some((r) => r === 'length' || r === 'content_filter')
          ? OUTCOME.INCOMPLETE
          : OUTCOME.COMPLETED
        : undefined,
    };
  },

  parseRequest: requestBody,

  outputText(data: string): string | undefined {
    const choice = asRecord((parseObject(data)?.choices as unknown[] | undefined)?.[0]);
    return asString(asRecord(choice?.delta)?.content);
  },
};
