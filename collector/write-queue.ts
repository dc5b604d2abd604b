/*
 * The bounded write queue between the receiver and the database.
 *
 * Requests are counted here in bytes (their decoded body size) from before they are
 * decoded until a writer commits them, so bodies waiting for a decode thread are bounded
 * with those waiting for the database; each request is answered only after its own rows
 * are committed. A writer takes everything waiting (up to a row bound) into one
 * transaction, so under load many small exports become a few large inserts — the same
 * group-commit effect a bigger exporter batch would have — and the queue drains faster the
 * fuller it gets.
 *
 * When the queue holds its byte limit, new requests are refused with QueueFullError (429
 * with Retry-After) instead of growing memory: the exporters keep the spans and retry.
 */
import type { Store } from '../db/client';
import type { SpanBatch, WriteResult } from '../db/ingest';
import { storeBatch } from './batch';
import { QueueFullError, RequestError, WriteUnavailableError } from './errors';
import { withTimeout } from './with-timeout';

export interface WriteQueueOptions {
  store: Store;
  /** Bytes of requests waiting or being written before new ones are refused. */
  maxBytes: number;
  /** Transactions in flight at once. */
  writers: number;
  /** Rows gathered into one transaction (a single larger request still goes whole). */
  maxRowsPerWrite: number;
  /**
   * How long a transaction may take before its requests are answered 503. A database that
   * stops answering (a partition, a driver stuck on a dead connection) would otherwise hold
   * the writers, and the queue, forever.
   */
  writeTimeoutMs: number;
  /** Called after each commit, for the collector's counters. */
  onCommitted(result: WriteResult): void;
}

export interface QueueDepth {
  /** Requests being decoded, waiting or being written. */
  requests: number;
  /** Of those, the ones still being decoded: not yet waiting for the database. */
  decoding: number;
  bytes: number;
  maxBytes: number;
  /** Transactions in flight. */
  writing: number;
}

/** A request's place in the queue, held while it is decoded. */
export interface Reservation {
  /**
   * Resolves once the batch's rows are committed. Rejects with RequestError 400 when the
   * database refuses one of its values, and WriteUnavailableError when the database could
   * not take the write.
   */
  submit(batch: SpanBatch): Promise<void>;
  /** Gives the place back unwritten (the request was refused); nothing once submitted. */
  release(): void;
}

export interface WriteQueue {
  /** Counts a request of `bytes` against the bound; throws QueueFullError when it does not fit. */
  reserve(bytes: number): Reservation;
  /** True when nothing more fits: lets the receiver refuse before reading a body. */
  full(): boolean;
  depth(): QueueDepth;
}

interface Entry {
  batch: SpanBatch;
  bytes: number;
  resolve(): void;
  reject(error: unknown): void;
}

export const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_ROWS_PER_WRITE = 10_000;
/** The official exporters give up on a request after 10 s by default and send it again. */
export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;

const rowsOf = (batch: SpanBatch) => batch.responses.length + batch.connections.length;
const byKey = (a: { traceId: string; spanId: string }, b: { traceId: string; spanId: string }) =>
  a.traceId < b.traceId ? -1 : a.traceId > b.traceId ? 1 : a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;

/**
 * One batch of several requests' rows. Sorted by (trace id, span id) so that two
 * transactions holding the same retried span take their row locks in one order and
 * cannot deadlock each other.
 */
function merge(entries: Entry[]): SpanBatch {
  if (entries.length === 1) return entries[0].batch;
  return {
    responses: entries.flatMap((e) => e.batch.responses).sort(byKey),
    connections: entries.flatMap((e) => e.batch.connections).sort(byKey),
  };
}

export function createWriteQueue(options: WriteQueueOptions): WriteQueue {
  const { store, maxBytes, writers, maxRowsPerWrite, writeTimeoutMs, onCommitted } = options;
  const waiting: Entry[] = [];
  let bytes = 0;
  let requests = 0;
  let decoding = 0;
  let writing = 0;

  async function commit(entries: Entry[]): Promise<void> {
    const stored = storeBatch(store, merge(entries)).then(onCommitted);
    await withTimeout(stored, writeTimeoutMs, () =>
      new WriteUnavailableError(`the database did not commit the batch within ${writeTimeoutMs} ms, retry later`));
    for (const entry of entries) entry.resolve();
  }

  async function write(entries: Entry[]): Promise<void> {
    try {
      await commit(entries);
    } catch (error) {
      // A value the database refused belongs to one request; writing them one by one
      // finds it, and the others need not fail with it.
      if (error instanceof RequestError && entries.length > 1) {
        for (const entry of entries) await commit([entry]).catch(entry.reject);
      } else {
        for (const entry of entries) entry.reject(error);
      }
    } finally {
      for (const entry of entries) bytes -= entry.bytes;
      requests -= entries.length;
    }
  }

  function take(): Entry[] {
    const entries = [waiting.shift()!];
    let rows = rowsOf(entries[0].batch);
    while (waiting.length > 0 && rows + rowsOf(waiting[0].batch) <= maxRowsPerWrite) {
      const next = waiting.shift()!;
      rows += rowsOf(next.batch);
      entries.push(next);
    }
    return entries;
  }

  function pump(): void {
    while (writing < writers && waiting.length > 0) {
      writing += 1;
      void write(take()).finally(() => {
        writing -= 1;
        pump();
      });
    }
  }

  return {
    reserve(size) {
      // An empty queue takes any request the body limit let through, or it could never pass.
      if (requests > 0 && bytes + size > maxBytes) throw new QueueFullError(bytes, maxBytes);
      bytes += size;
      requests += 1;
      decoding += 1;
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        bytes -= size;
        requests -= 1;
        decoding -= 1;
      };
      return {
        submit(batch) {
          if (rowsOf(batch) === 0) {
            release();
            return Promise.resolve();
          }
          // From here the writer gives the bytes back once the batch is written.
          held = false;
          decoding -= 1;
          return new Promise<void>((resolve, reject) => {
            waiting.push({ batch, bytes: size, resolve, reject });
            pump();
          });
        },
        release,
      };
    },
    full: () => requests > 0 && bytes >= maxBytes,
    depth: () => ({ requests, decoding, bytes, maxBytes, writing }),
  };
}
