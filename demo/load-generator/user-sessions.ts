import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import type { ResponsesWS } from 'openai/resources/responses/ws';
import type { Agent } from 'undici-types';
import { bundledUndiciAgent } from './bundled-undici-agent.ts';
import { streamOverSse, type ResponseRequest } from './sse-stream.ts';
import { StreamTimingRecorder, type StreamTiming } from './stream-timing.ts';
import { isOpen, openResponsesSocket, streamOverWebSocket } from './websocket-stream.ts';

export type Transport = 'websocket' | 'sse';

/**
 * How virtual users hold connections:
 * - `persistent-ws`: each user pins one connection for its whole life — one WebSocket, or for
 *   SSE an HTTP connection of its own.
 * - `keep-alive`: HTTP connections are kept alive in one pool shared by all users (a
 *   WebSocket cannot be shared mid-response, so WebSocket users behave as `persistent-ws`).
 * - `new-connection`: every response opens and closes its own connection.
 */
export type ConnectionPolicy = 'persistent-ws' | 'keep-alive' | 'new-connection';

export interface SessionSettings {
  baseURL: string;
  apiKey: string;
  request: ResponseRequest;
  policy: ConnectionPolicy;
  /** PEM certificate to trust, for a server with a self-signed certificate. */
  ca?: string;
}

/** One virtual user's connection state; `next` streams one response. */
export interface UserSession {
  next(signal: AbortSignal): Promise<StreamTiming>;
  close(): void;
}

export interface SessionFactory {
  open(transport: Transport): UserSession;
  /** Closes every connection pool the factory created. */
  close(): Promise<void>;
}

function failure(startedAt: number, error: unknown): StreamTiming {
  return new StreamTimingRecorder(startedAt).finish(error instanceof Error ? error.message : String(error));
}

function websocketSession(client: OpenAI, settings: SessionSettings): UserSession {
  let socket: ResponsesWS | null = null;
  return {
    async next() {
      const startedAt = performance.now();
      try {
        if (socket === null || !isOpen(socket)) socket = await openResponsesSocket(client, settings.ca ? { ca: settings.ca } : {});
      } catch (error) {
        return failure(startedAt, error);
      }
      const timing = await streamOverWebSocket(socket, settings.request, startedAt);
      if (settings.policy === 'new-connection') this.close();
      return timing;
    },
    close() {
      socket?.close();
      socket = null;
    },
  };
}

function sseSession(client: OpenAI, settings: SessionSettings, closeOwnPool?: () => void): UserSession {
  const newConnection = settings.policy === 'new-connection';
  return {
    next: (signal) => streamOverSse(client, settings.request, { newConnection, signal }),
    close: () => closeOwnPool?.(),
  };
}

/**
 * Creates the official clients a run needs. Every HTTP client gets its own undici pool (from
 * the copy Node bundles for `fetch`), so a run's connections, and its CA, stay its own.
 */
export async function createSessionFactory(settings: SessionSettings): Promise<SessionFactory> {
  const UndiciAgent = await bundledUndiciAgent();
  const pools = new Set<Agent>();
  const newClient = (connections?: number) => {
    const pool = new UndiciAgent({ connect: settings.ca ? { ca: settings.ca } : {}, connections });
    pools.add(pool);
    const client = new OpenAI({ baseURL: settings.baseURL, apiKey: settings.apiKey, maxRetries: 0, fetchOptions: { dispatcher: pool } });
    const closePool = () => {
      pools.delete(pool);
      void pool.close();
    };
    return { client, closePool };
  };
  const shared = newClient();

  return {
    open(transport) {
      if (transport === 'websocket') return websocketSession(shared.client, settings);
      if (settings.policy !== 'persistent-ws') return sseSession(shared.client, settings);
      const own = newClient(1);
      return sseSession(own.client, settings, own.closePool);
    },
    close: async () => {
      await Promise.all([...pools].map((pool) => pool.close()));
      pools.clear();
    },
  };
}
