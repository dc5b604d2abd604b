import type OpenAI from 'openai';
import { ResponsesWS, type ResponsesWSClientOptions } from 'openai/resources/responses/ws';
import type { ResponseRequest } from './sse-stream.ts';
import { StreamTimingRecorder, terminalError, type StreamTiming } from './stream-timing.ts';

/** Opens a Responses WebSocket with the official client and waits until it is usable. */
export function openResponsesSocket(client: OpenAI, options: ResponsesWSClientOptions = {}): Promise<ResponsesWS> {
  const socket = new ResponsesWS(client, options);
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      socket.off('error', onError);
      socket.close();
      reject(error);
    };
    socket.on('error', onError);
    socket.socket.once('open', () => {
      socket.off('error', onError);
      // Errors after open belong to a response and are reported by streamOverWebSocket; an
      // emitter without an `error` listener would turn them into unhandled rejections.
      socket.on('error', () => {});
      resolve(socket);
    });
  });
}

/** True while the socket can carry another response. */
export function isOpen(socket: ResponsesWS): boolean {
  return socket.socket.readyState === 1;
}

/**
 * Streams one response over an open Responses WebSocket. The socket must have no other
 * response in flight: every server event on it is attributed to this one. `startedAt` lets a
 * caller that opened the socket for this response count the handshake in its latency.
 */
export function streamOverWebSocket(socket: ResponsesWS, request: ResponseRequest, startedAt?: number): Promise<StreamTiming> {
  const recorder = new StreamTimingRecorder(startedAt);
  // A closed socket will not emit `close` again, so waiting on it would never end.
  if (!isOpen(socket)) return Promise.resolve(recorder.finish('socket not open'));
  return new Promise((resolve) => {
    const settle = (timing: StreamTiming) => {
      socket.off('event', onEvent);
      socket.off('close', onClose);
      resolve(timing);
    };
    const onEvent = (event: { type: string; response?: { id?: string } }) => {
      if (recorder.observe(event)) settle(recorder.finish(terminalError(event)));
    };
    const onClose = () => settle(recorder.finish('socket closed mid-response'));
    socket.on('event', onEvent);
    socket.on('close', onClose);
    socket.send({ type: 'response.create', ...request });
  });
}
