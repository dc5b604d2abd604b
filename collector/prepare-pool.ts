/*
 * Decoding and translating an export request is a large part of the collector's CPU
 * (several milliseconds for 512 spans), and it is pure: bytes in, rows out. A pool of
 * worker threads does it, so the event loop — and PGlite, which runs on it — goes on
 * answering and writing while the next requests decode on other cores.
 *
 * Each thread gets a young generation large enough for a whole request's rows: with
 * V8's default, the garbage collector copies objects that are still in use.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { prepareBatch, type PreparedBatch } from './batch';
import { PrepareUnavailableError, RequestError } from './errors';
import type { OtlpEncoding } from './otlp/decode';

export interface PrepareTask {
  id: number;
  body: Uint8Array;
  encoding: OtlpEncoding;
}

type ResponseRow = PreparedBatch['responses'][number];

/**
 * A prepared batch as it crosses between threads: token offsets as Int32Array (translation
 * has checked they fit), which structured clone copies as one block rather than number by
 * number — half the cost of the crossing, on both threads.
 */
export interface WireBatch extends Omit<PreparedBatch, 'responses'> {
  responses: (Omit<ResponseRow, 'tokenOffsetsUs'> & { tokenOffsetsUs: Int32Array | null | undefined })[];
}

export function toWire(batch: PreparedBatch): WireBatch {
  const responses = batch.responses.map((row) => ({ ...row, tokenOffsetsUs: row.tokenOffsetsUs && Int32Array.from(row.tokenOffsetsUs) }));
  return { ...batch, responses };
}

function fromWire(batch: WireBatch): PreparedBatch {
  for (const row of batch.responses) (row as ResponseRow).tokenOffsetsUs = row.tokenOffsetsUs && toArray(row.tokenOffsetsUs);
  return batch as PreparedBatch;
}

/** Array.from goes through the iterator protocol: five times the cost of this loop, on the event loop. */
function toArray(values: Int32Array): number[] {
  const array = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) array[i] = values[i];
  return array;
}

export type PrepareReply =
  | { id: number; batch: WireBatch }
  | { id: number; requestError: { status: RequestError['status']; message: string } }
  /** Not the request's fault: an exception the worker did not expect. */
  | { id: number; failure: string };

export interface PreparePool {
  /** Rejects with RequestError for bad input, PrepareUnavailableError when the worker stopped. */
  prepare(body: Uint8Array, encoding: OtlpEncoding): Promise<PreparedBatch>;
  close(): Promise<void>;
}

export interface PreparePoolOptions {
  /** Worker threads; 0 prepares on the calling thread. */
  size: number;
  /** The worker script (tests substitute one that can be made to crash). */
  workerUrl?: URL;
}

const WORKER_URL = new URL('./prepare-thread.mjs', import.meta.url);
/**
 * A 512-span request still makes a few megabytes of short-lived rows and strings: with
 * 96 MB of young generation (32 MB semi-spaces) a request costs ~30 % less CPU than with
 * V8's default, and twice that buys nothing more but ~70 MB of RSS.
 */
export const YOUNG_GENERATION_MB = 96;
/** More threads than this only contend with the event loop and the database for cores. */
const MAX_DEFAULT_WORKERS = 4;

/** One thread per core the event loop does not use, at least one. */
export const defaultPrepareWorkers = () => Math.min(MAX_DEFAULT_WORKERS, Math.max(1, os.availableParallelism() - 1));

interface Pending {
  resolve(batch: PreparedBatch): void;
  reject(error: unknown): void;
}

interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
}

export function createPreparePool({ size, workerUrl = WORKER_URL }: PreparePoolOptions): PreparePool {
  if (size === 0) {
    return { prepare: async (body, encoding) => prepareBatch(body, encoding), close: async () => undefined };
  }
  let nextId = 0;
  let closing = false;

  function start(): Thread {
    const worker = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    const thread: Thread = { worker, pending: new Map() };
    let crash = '';
    worker.on('message', (reply: PrepareReply) => {
      const pending = thread.pending.get(reply.id);
      if (!pending) return;
      thread.pending.delete(reply.id);
      if ('batch' in reply) pending.resolve(fromWire(reply.batch));
      else if ('requestError' in reply) pending.reject(new RequestError(reply.requestError.status, reply.requestError.message));
      else pending.reject(new Error(`preparing the request failed: ${reply.failure}`));
    });
    worker.on('error', (error) => {
      crash = `: ${error.message}`;
    });
    // A thread that dies (out of memory, a native fault) takes only the requests it held,
    // which may well succeed when sent again; its place is taken by a fresh thread.
    worker.on('exit', (code) => {
      const error = new PrepareUnavailableError(`the thread decoding this request stopped (exit code ${code}${crash}), retry later`);
      for (const pending of thread.pending.values()) pending.reject(error);
      thread.pending.clear();
      if (!closing) threads[threads.indexOf(thread)] = start();
    });
    return thread;
  }

  const threads: Thread[] = Array.from({ length: size }, start);

  return {
    prepare(body, encoding) {
      if (closing) return Promise.reject(new PrepareUnavailableError('the collector is shutting down, retry later'));
      const thread = threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise<PreparedBatch>((resolve, reject) => {
        thread.pending.set(id, { resolve, reject });
        thread.worker.postMessage({ id, body, encoding } satisfies PrepareTask);
      });
    },
    async close() {
      closing = true;
      await Promise.all(threads.map((thread) => thread.worker.terminate()));
    },
  };
}
