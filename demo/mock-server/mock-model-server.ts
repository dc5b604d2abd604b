import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { createHttpHandler } from './http-handlers.ts';
import { ScheduleRegistry } from './schedule-registry.ts';
import { DEFAULT_SCHEDULE_CONFIG, type ScheduleConfig, type TokenSchedule } from './schedule.ts';
import { generateLocalhostCertificate } from './tls-certificate.ts';
import { serveResponsesSocket } from './websocket-handler.ts';

export interface MockModelServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Base seed for every per-response schedule. Default 1. */
  seed?: number;
  /** Overrides of the default timing and error distributions. */
  schedule?: Partial<ScheduleConfig>;
  /** Serve https/wss with a certificate generated at start. */
  tls?: boolean;
  /** How many recent schedules `scheduleFor` can return. Default 10 000. */
  rememberSchedules?: number;
}

export interface MockModelServer {
  /** Base URL for the `openai` client, e.g. `http://127.0.0.1:4000/v1`. */
  url: string;
  /** The Responses WebSocket endpoint, e.g. `ws://127.0.0.1:4000/v1/responses`. */
  wsUrl: string;
  port: number;
  /** PEM certificate clients must trust when `tls` is on; null otherwise. */
  ca: string | null;
  /** TCP connections accepted so far: compared with responses served, the cost of each policy. */
  connectionsAccepted(): number;
  /** The exact schedule injected for a response (or chat completion) id. */
  scheduleFor(responseId: string): TokenSchedule | undefined;
  close(): Promise<void>;
}

async function createTransportServer(tls: boolean): Promise<{ server: Server; ca: string | null }> {
  if (!tls) return { server: createHttpServer({ noDelay: true }), ca: null };
  const { key, cert } = await generateLocalhostCertificate();
  return { server: createHttpsServer({ key, cert, noDelay: true }), ca: cert };
}

/** Starts the mock OpenAI-compatible server; resolves once it is listening. */
export async function createMockModelServer(options: MockModelServerOptions = {}): Promise<MockModelServer> {
  const host = options.host ?? '127.0.0.1';
  const config: ScheduleConfig = { ...DEFAULT_SCHEDULE_CONFIG, ...options.schedule };
  const registry = new ScheduleRegistry(options.seed ?? 1, config, options.rememberSchedules ?? 10_000);
  const { server, ca } = await createTransportServer(options.tls ?? false);
  const sockets = new Set<Socket>();
  let connectionsAccepted = 0;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

  server.on('request', createHttpHandler(registry));
  server.on('connection', (socket: Socket) => {
    connectionsAccepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://mock').pathname !== '/v1/responses') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveResponsesSocket(ws, registry));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const secure = ca !== null;

  return {
    url: `${secure ? 'https' : 'http'}://${authority}/v1`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${authority}/v1/responses`,
    port,
    ca,
    connectionsAccepted: () => connectionsAccepted,
    scheduleFor: (responseId) => registry.get(responseId),
    close: () =>
      new Promise<void>((resolve) => {
        // Open streams and sockets would keep `server.close` waiting; end them first.
        for (const client of wss.clients) client.terminate();
        for (const socket of sockets) socket.destroy();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
