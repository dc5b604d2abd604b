import type OpenAI from 'openai';
import type { ResponseCreateParamsBase } from 'openai/resources/responses/responses';
import { StreamTimingRecorder, terminalError, type StreamTiming } from './stream-timing.ts';

export type ResponseRequest = Omit<ResponseCreateParamsBase, 'stream'>;

export interface SseStreamOptions {
  /** Ask for the connection to close afterwards, so the next request pays for a fresh one. */
  newConnection?: boolean;
  signal?: AbortSignal;
}

/**
 * Streams one response over HTTP/SSE (`POST /v1/responses`, `stream: true`) with the official
 * client, timing every delta as the client hands it over.
 */
export async function streamOverSse(client: OpenAI, request: ResponseRequest, options: SseStreamOptions = {}): Promise<StreamTiming> {
  const recorder = new StreamTimingRecorder();
  try {
    const stream = await client.responses.create(
      { ...request, stream: true },
      { signal: options.signal, headers: options.newConnection ? { connection: 'close' } : undefined },
    );
    let timing: StreamTiming | null = null;
    // Read to the end even after the terminal event: leaving the loop early aborts the request,
    // and an aborted body costs the connection its keep-alive.
    for await (const event of stream) {
      if (recorder.observe(event)) timing = recorder.finish(terminalError(event));
    }
    // undici hands the connection back to its pool a macrotask after the body ends; without
    // this yield a caller's next request would find it busy and open another.
    await new Promise((resolve) => setImmediate(resolve));
    return timing ?? recorder.finish('stream ended without a terminal event');
  } catch (error) {
    return recorder.finish(error instanceof Error ? error.message : String(error));
  }
}
