import type { RequestInfo } from '../internal-types.ts';
import { readMembers } from './json-members.ts';
import { asString } from './json-scan.ts';

const MODEL = new Set(['model']);
const MODEL_AND_MESSAGES = new Set(['model', 'messages']);

/**
 * What a request body holding its prompt in `messages` (Chat Completions, Anthropic
 * Messages) says: the model and, when asked, the prompt as its JSON text. A body that is
 * not a JSON object still counts as a request, of no known model.
 */
export function requestBody(body: string, withMessages: boolean): RequestInfo {
  const members = readMembers(body, withMessages ? MODEL_AND_MESSAGES : MODEL);
  return {
    createsResponse: true,
    model: asString(members?.value('model')),
    input: withMessages ? members?.raw('messages') : undefined,
  };
}
