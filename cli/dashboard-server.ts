/*
 * Serves the built Next.js dashboard from this process, so that in the embedded mode the
 * dashboard and the collector share one PGlite instance (PGlite allows one opener).
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import next from 'next';
import { repoRoot, runStep } from './process';

export interface DashboardServer {
  readonly url: string;
  close(): Promise<void>;
}

export function dashboardIsBuilt(): boolean {
  return existsSync(path.join(repoRoot, '.next', 'BUILD_ID'));
}

/** Builds the dashboard once; later starts reuse the build (run `npm run build` after changing app/). */
export async function ensureDashboardBuilt(): Promise<void> {
  if (dashboardIsBuilt()) return;
  console.log('• first start: building the dashboard with `next build` (about a minute on 2 cores)…');
  await runStep('npx', ['next', 'build'], 'next build failed: run `npx next build` to see why');
}

export async function startDashboard(options: { port: number; host: string }): Promise<DashboardServer> {
  const server: Server = createServer();
  // Listen first: with port 0 Next must be told the port actually bound, since it uses it
  // to resolve its own redirects.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const app = next({ dev: false, dir: repoRoot, hostname: options.host, port });
  await app.prepare();
  const handle = app.getRequestHandler();
  // Attached only now: nobody has the URL before this function returns it.
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      console.error('dashboard request failed:', error);
      if (!res.headersSent) res.writeHead(500).end('internal error');
    });
  });
  return {
    url: `http://${options.host === '0.0.0.0' ? 'localhost' : options.host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await app.close();
    },
  };
}
