import { API, OUTCOME } from '../contract.ts';
import { EVENT_CLASS, type ControlEvent, type EventClass, type ProtocolParser } from '../internal-types.ts';
import { requestBody } from './request-body.ts';

const DONE = '[DONE]';

/**
 * Fallback for streams of unknown shape: every data event is one output chunk, `[DONE]`
 * ends the stream, and the end of the body is a normal end.
 */
export const genericParser: ProtocolParser = {
  api: API.GENERIC,
  provider: 'unknown',
  endOfStreamOutcome: OUTCOME.COMPLETED,

  classify(data: string): EventClass {
    return data.startsWith(DONE) ? EVENT_CLASS.CONTROL : EVENT_CLASS.OUTPUT;
  },

  parseControl(data: string): ControlEvent | undefined {
    return data.startsWith(DONE) ? { outcome: OUTCOME.COMPLETED } : undefined;
  },

  parseRequest: (body) => requestBody(body, false),

  outputText(data: string): string | undefined {
    return data;
  },
};
