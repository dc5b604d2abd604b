import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { playSchedule } from './playback.ts';
import { createResponsesEncoder, newResponseId, type ResponsesRequest } from './responses-events.ts';
import type { ScheduleRegistry } from './schedule-registry.ts';

/** The Responses API `error` event, used for client messages the mock cannot act on. */
function errorEvent(code: string, message: string) {
  return { type: 'error', status: 400, error: { type: 'invalid_request_error', code, message, param: null }, sequence_number: 0 };
}

function parseClientEvent(data: string): ({ type: unknown } & ResponsesRequest) | null {
  try {
    const event: unknown = JSON.parse(data);
    return typeof event === 'object' && event !== null && !Array.isArray(event) ? (event as { type: unknown }) : null;
  } catch {
    return null;
  }
}

/**
 * Serves the Responses API WebSocket mode on one connection. Responses are played one after
 * another, in the order their `response.create` arrived, as the real API allows only one
 * in-flight response per connection.
 */
export function serveResponsesSocket(socket: WebSocket, registry: ScheduleRegistry): void {
  const closed = new AbortController();
  let queue = Promise.resolve();
  socket.on('close', () => closed.abort());
  socket.on('error', () => closed.abort());
  socket.on('message', (data, isBinary) => {
    // Arrival time, before waiting behind an earlier response on this connection.
    const receivedAt = performance.now();
    const send = (event: object) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(event));
    };
    const event = isBinary ? null : parseClientEvent(String(data));
    if (!event) {
      send(errorEvent('invalid_json', 'Client events must be JSON objects sent as text frames.'));
      return;
    }
    if (event.type !== 'response.create') {
      send(errorEvent('unknown_event_type', `Unsupported client event type ${JSON.stringify(event.type)}.`));
      return;
    }
    queue = queue.then(async () => {
      const responseId = newResponseId();
      const schedule = registry.assign(responseId);
      // A response queued behind another starts its clock when it starts, like a real server.
      const startedAt = Math.max(receivedAt, performance.now());
      await playSchedule(schedule, startedAt, createResponsesEncoder(responseId, event, schedule, send), closed.signal);
    });
  });
}
