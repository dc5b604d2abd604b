import type { ProtocolParser } from '../internal-types.ts';
import { anthropicMessagesParser } from './anthropic-messages.ts';
import { chatCompletionsParser } from './chat-completions.ts';
import { genericParser } from './generic.ts';
import { eventType } from './json-scan.ts';
import { openaiRealtimeParser } from './openai-realtime.ts';
import { openaiResponsesParser } from './openai-responses.ts';

/** The parser a URL path names; the generic one when the path is not a known API. */
export function parserForPath(pathname: string): ProtocolParser {
  if (pathname.endsWith('/responses')) return openaiResponsesParser;
  if (pathname.endsWith('/realtime')) return openaiRealtimeParser;
  if (pathname.endsWith('/chat/completions')) return chatCompletionsParser;
  if (pathname.endsWith('/messages')) return anthropicMessagesParser;
  return genericParser;
}

/**
 * For a WebSocket on an unrecognised path: the first message in either direction can
 * still name the protocol (a client `response.create`, a Realtime `session.created`).
 */
export function parserForFirstMessage(data: string): ProtocolParser | undefined {
  switch (eventType(data)) {
    case 'response.create':
      return openaiResponsesParser;
    case 'session.created':
      return openaiRealtimeParser;
    default:
      return undefined;
  }
}
