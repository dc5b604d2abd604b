/*
 * Reads a request body into memory with a hard size limit that applies after
 * decompression. A gzip body is inflated as it streams in and abandoned the moment the
 * inflated size passes the limit, so a few kilobytes of gzip bomb never become gigabytes.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { RequestError } from './errors';

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw tooLarge(maxBytes, 'body');
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity') return collect(req, maxBytes, 'body');
  if (encoding !== 'gzip') {
    throw new RequestError(415, `unsupported Content-Encoding "${encoding}": send gzip or an uncompressed body`);
  }
  const gunzip = createGunzip();
  req.on('error', (error) => gunzip.destroy(error));
  req.pipe(gunzip);
  try {
    return await collect(gunzip, maxBytes, 'decompressed body');
  } catch (error) {
    req.unpipe(gunzip);
    gunzip.destroy();
    if (error instanceof RequestError) throw error;
    throw new RequestError(400, `malformed gzip body: ${(error as Error).message}`);
  }
}

/**
 * Event-driven rather than `for await`: leaving an async iterator early destroys the
 * stream, and destroying the request's socket would lose the 413 the client should read.
 */
function collect(stream: Readable, maxBytes: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      stream.off('data', onData).off('end', onEnd).off('error', onError);
      stream.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else {
        stop();
        reject(tooLarge(maxBytes, what));
      }
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    stream.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function tooLarge(maxBytes: number, what: string): RequestError {
  return new RequestError(413, `${what} exceeds the limit of ${maxBytes} bytes`);
}
