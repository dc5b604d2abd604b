import { GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC } from '@opentelemetry/semantic-conventions/incubating';
import { API, OUTCOME } from '../contract.ts';
import { EVENT_CLASS, type ControlEvent, type EventClass, type ProtocolParser } from '../internal-types.ts';
import { requestBody } from './request-body.ts';
import { asNumber, asRecord, asString, eventType, parseObject } from './json-scan.ts';

const CONTROL_TYPES = new Set(['message_start', 'message_delta', 'message_stop', 'error']);

/**
 * Anthropic Messages SSE: `message_start` (id, model, input usage), `content_block_delta`
 * (text, tool-input JSON and thinking deltas are output; signatures are not),
 * `message_delta` (stop reason, output usage), `message_stop`, `error`.
 */
export const anthropicMessagesParser: ProtocolParser = {
  api: API.ANTHROPIC_MESSAGES,
  provider: GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  endOfStreamOutcome: OUTCOME.CONNECTION_LOST,

  classify(data: string, eventName?: string): EventClass {
    const type = eventName ?? eventType(data);
    if (type === 'content_block_delta') {
      return data.includes('"signature_delta"') ? EVENT_CLASS.IGNORE : EVENT_CLASS.OUTPUT;
    }
    return type !== undefined && CONTROL_TYPES.has(type) ? EVENT_CLASS.CONTROL : EVENT_CLASS.IGNORE;
  },

  parseControl(data: string, eventName?: string): ControlEvent | undefined {
    const type = eventName ?? eventType(data);
    const event = parseObject(data);
    switch (type) {
      case 'message_start': {
        const message = asRecord(event?.message);
        const usage = asRecord(message?.usage);
        return {
          responseId: asString(message?.id),
          model: asString(message?.model),
          inputTokens: asNumber(usage?.input_tokens),
        };
      }
      case 'message_delta': {
        const stopReason = asString(asRecord(event?.delta)?.stop_reason);
        return {
          outputTokens: asNumber(asRecord(event?.usage)?.output_tokens),
          finishReasons: stopReason ? [stopReason] : undefined,
          outcome: stopReason === undefined ? undefined : stopReason === 'max_tokens' ? OUTCOME.INCOMPLETE : OUTCOME.COMPLETED,
        };
      }
      case 'message_stop':
        return { outcome: OUTCOME.COMPLETED };
      case 'error':
        return { outcome: OUTCOME.FAILED };
      default:
        return undefined;
    }
  },

  parseRequest: requestBody,

  outputText(data: string): string | undefined {
    const delta = asRecord(parseObject(data)?.delta);
    return asString(delta?.text) ?? asString(delta?.partial_json) ?? asString(delta?.thinking);
  },
};
