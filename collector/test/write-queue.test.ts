/*
 * The write queue's byte bound covers a request from before it is decoded: bodies waiting
 * for a decode thread cannot pile up outside it, and a refused request gives its place back.
 * (Nothing here reaches the database: no batch with rows is submitted.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from '../../db/client';
import { QueueFullError } from '../errors';
import { createWriteQueue } from '../write-queue';

const queue = () => createWriteQueue({
  store: {} as Store,
  maxBytes: 100,
  writers: 1,
  maxRowsPerWrite: 10,
  writeTimeoutMs: 1000,
  onCommitted: () => undefined,
});

test('a request being decoded holds its bytes, and one that does not fit beside it is refused', () => {
  const q = queue();
  q.reserve(60);
  assert.throws(() => q.reserve(60), QueueFullError);
  assert.deepEqual(q.depth(), { requests: 1, decoding: 1, bytes: 60, maxBytes: 100, writing: 0 });
  assert.equal(q.full(), false);
  q.reserve(40);
  assert.equal(q.full(), true);
});

test('a refused or empty request gives its place back, once', async () => {
  const q = queue();
  const refused = q.reserve(60);
  refused.release();
  refused.release();
  assert.deepEqual(q.depth(), { requests: 0, decoding: 0, bytes: 0, maxBytes: 100, writing: 0 });
  const empty = q.reserve(100);
  await empty.submit({ responses: [], connections: [] });
  empty.release();
  assert.deepEqual(q.depth(), { requests: 0, decoding: 0, bytes: 0, maxBytes: 100, writing: 0 });
});

test('an empty queue takes a request larger than its bound, so it can always pass', () => {
  const q = queue();
  q.reserve(150);
  assert.throws(() => q.reserve(1), QueueFullError);
});
