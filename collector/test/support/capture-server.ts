/*
 * A bare HTTP endpoint that records what an exporter sends and acknowledges it with an
 * empty (full-success) body, so tests can decode the exact bytes the official exporters
 * put on the wire.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface CaptureServer {
  url: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startCaptureServer(): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    const json = req.headers['content-type']?.startsWith('application/json');
    res.writeHead(200, { 'Content-Type': req.headers['content-type'] ?? 'application/x-protobuf' });
    res.end(json ? '{}' : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
