import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pipeWithDelay } from './delayed-pipe.ts';

export interface DelayProxyOptions {
  /** Where the proxy forwards to, e.g. the mock model server. */
  target: { host: string; port: number };
  /** Round-trip time to add: half on the way in, half on the way out. */
  rttMs: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy that makes a local server feel `rttMs` away. Every chunk, either way, waits
 * `rttMs / 2`, so TLS handshakes, HTTP upgrades and request/response exchanges pay real round
 * trips. The TCP handshake itself completes locally before the proxy sees the connection, so
 * the proxy charges it instead: the client's first bytes are held for one RTT after accept,
 * which is when they could first have been sent over a real link. A client therefore sees its
 * `connect` finish at once and the round trip show up in its first exchange.
 */
export async function createDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const halfRtt = options.rttMs / 2;
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Nagle would batch small frames and add its own, unscheduled delay.
    socket.setNoDelay(true);
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    const acceptedAt = performance.now();
    const upstream = connect({ ...options.target, allowHalfOpen: true });
    track(client);
    track(upstream);
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    pipeWithDelay(client, upstream, { delayMs: halfRtt, holdUntil: acceptedAt + options.rttMs });
    pipeWithDelay(upstream, client, { delayMs: halfRtt });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
