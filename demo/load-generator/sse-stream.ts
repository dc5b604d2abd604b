import type OpenAI from 'openai';
import type { ResponseCreateParamsBase } from 'openai/resources/responses/responses';
import { StreamTimingRecorder, terminalError, type StreamTiming } from './stream-timing.ts';

export type ResponseRequest = Omit<ResponseCreateParamsBase, 'stream'>;

/**
 * Streams one response over HTTP/SSE (`POST /v1/responses`, `stream: true`) with the official
 * client, timing every delta as the client hands it over. `newConnection` asks for the
 * connection to close afterwards, so the next request pays for a fresh one.
 */
export async function streamOverSse(client: OpenAI, request: ResponseRequest, newConnection: boolean): Promise<StreamTiming> {
  const recorder = new StreamTimingRecorder();
  try {
    const stream = await client.responses.create(
      { ...request, stream: true },
      newConnection ? { headers: { connection: 'close' } } : undefined,
    );
    for await (const event of stream) {
      if (recorder.observe(event)) return recorder.finish(terminalError(event));
    }
    return recorder.finish('stream ended without a terminal event');
  } catch (error) {
    return recorder.finish(error instanceof Error ? error.message : String(error));
  }
}
