/*
 * The bounded write queue: a full queue answers 429 with Retry-After before reading the
 * body, the official exporter's retries then get through, every acknowledged span is
 * stored once, and requests waiting together are written in fewer transactions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExportResultCode } from '@opentelemetry/core';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ATTR_KIND, GEN_AI, KIND } from '@streamscope/instrumentation/contract';
import { sql } from 'drizzle-orm';
import type { Store } from '../../db/client';
import { queryRows } from '../../db/rows';
import { describeEachDatabase } from '../../test/support/databases';
import { startCollector, type Collector } from '../index';
import { QUEUE_FULL_RETRY_AFTER_SECONDS } from '../server';
import { startCaptureServer } from './support/capture-server';
import { rowCount } from './support/collector';
import { attribute, decodeRpcStatus, jsonSpan, post, PROTOBUF, protobufRequest } from './support/otlp-requests';
import { exportSpans, hrTimeAt, recentHrTime, recordSpans } from './support/spans';

const responseSpan = () => jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE), attribute(GEN_AI.REQUEST_MODEL, 'm')] });

/**
 * A slow database: holds the responses table locked (PGlite: its one connection busy)
 * until released, so the collector's writes wait and its queue fills whatever the
 * machine's speed. Unblocked, PGlite writes faster than requests arrive.
 */
async function blockWrites(store: Store): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const done = store.db.transaction(async (tx) => {
    await tx.execute(sql`lock table responses in access exclusive mode`);
    locked();
    await released;
  });
  await Promise.race([isLocked, done]);
  return {
    async release() {
      release();
      await done;
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function withCollector<T>(store: Store, queueBytes: number, run: (collector: Collector) => Promise<T>, writers?: number): Promise<T> {
  const collector = await startCollector({ store, port: 0, queueBytes, writers });
  // An empty export first: the collector reads the API keys on its first request, which
  // would otherwise wait behind blockWrites on PGlite's one connection.
  assert.equal((await post(collector.url, protobufRequest('warm-up', []), PROTOBUF)).status, 200);
  try {
    return await run(collector);
  } finally {
    await collector.close();
  }
}

describeEachDatabase('collector backpressure', (database) => {
  test('a full queue answers 429 with Retry-After, and /healthz shows its depth', async () => {
    const store = database().store;
    const body = protobufRequest('queue-full-app', [responseSpan()]);
    await withCollector(store, body.length, async (collector) => {
      const blocker = await blockWrites(store);
      const first = post(collector.url, body, PROTOBUF);
      // The first request is admitted and waits on the lock; wait until the queue holds it.
      await until(() => collector.queueDepth().requests > 0);
      const refused = await post(collector.url, protobufRequest('queue-full-app', [responseSpan()]), PROTOBUF);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), String(QUEUE_FULL_RETRY_AFTER_SECONDS));
      const status = decodeRpcStatus(await refused.arrayBuffer());
      assert.equal(status.code, 8);
      assert.match(status.message ?? '', /write queue is full/);
      const health = (await (await fetch(`${collector.url}/healthz`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined))?.json()) as
        | { queue: { requests: number; bytes: number; maxBytes: number } }
        | undefined;
      // PGlite's one connection is held by the blocker, so its health query waits too.
      if (database().kind === 'postgres') assert.deepEqual(health?.queue, { requests: 1, decoding: 0, bytes: body.length, maxBytes: body.length, writing: 1 });
      await blocker.release();
      assert.equal((await first).status, 200);
      assert.equal(collector.stats.queueFullRejections, 1);
      assert.equal(await rowCount(store, 'queue-full-app'), 1);
    });
  });

  test('the official protobuf exporter retries through a tiny queue and every acknowledged span is stored once', async () => {
    const store = database().store;
    const service = `tiny-queue-${database().kind}`;
    const exports = 12;
    const spansPerExport = 25;
    const batches = Array.from({ length: exports }, (_, i) => {
      const start = recentHrTime();
      return recordSpans({ resource: { [ATTR_SERVICE_NAME]: service } }, Array.from({ length: spansPerExport }, (_, j) => ({
        name: `chat ${i}.${j}`,
        startTime: start,
        endTime: hrTimeAt(start, 100 + j),
        attributes: { [ATTR_KIND]: KIND.RESPONSE, [GEN_AI.REQUEST_MODEL]: 'm' },
      })));
    });
    // The queue holds three exports: most of each wave of retries (which arrive together,
    // Retry-After carrying no jitter) is refused again, leaving the exporters margin.
    const capture = await startCaptureServer();
    await exportSpans({ url: `${capture.url}/v1/traces`, exporter: 'protobuf' }, batches[0]);
    await capture.close();
    const exportBytes = capture.requests[0].body.length;

    await withCollector(store, exportBytes * 3, async (collector) => {
      const url = `${collector.url}/v1/traces`;
      const blocker = await blockWrites(store);
      const exported = Promise.all(batches.map((spans) => exportSpans({ url, exporter: 'protobuf' }, spans)));
      await until(() => collector.stats.queueFullRejections > 0);
      await blocker.release();
      const results = await exported;
      const acknowledged = batches.filter((_, i) => results[i].code === ExportResultCode.SUCCESS);
      assert.equal(acknowledged.length, exports, `${exports - acknowledged.length} exports gave up`);
      const ids = acknowledged.flat().map((span) => span.spanContext().spanId);
      const rows = await queryRows<{ span_id: string; n: number }>(store.db, sql`
        select span_id, count(*)::int as n from responses where service = ${service} group by span_id`);
      assert.deepEqual(rows.map((r) => r.span_id).sort(), ids.sort());
      assert.ok(rows.every((r) => r.n === 1));
    });
  });

  test('requests waiting together are written in fewer transactions', async () => {
    const store = database().store;
    const requests = 40;
    await withCollector(store, 1024 * 1024, async (collector) => {
      const blocker = await blockWrites(store);
      const answered = Promise.all(Array.from({ length: requests }, () =>
        post(collector.url, protobufRequest('coalesce-app', [responseSpan(), responseSpan()]), PROTOBUF)));
      // Decoded, all of them: a request still in a decode thread at the release would find
      // the writer free and be written alone.
      await until(() => collector.queueDepth().requests === requests && collector.queueDepth().decoding === 0);
      await blocker.release();
      const answers = await answered;
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
      assert.equal(await rowCount(store, 'coalesce-app'), requests * 2);
      assert.ok(collector.stats.writeTransactions < requests, `${collector.stats.writeTransactions} transactions for ${requests} requests`);
    });
  });

  test('a value the database refuses fails only its own request when requests were written together', async () => {
    const store = database().store;
    // A stand-in for a value the translator lets through and the database refuses (SQLSTATE class 22).
    await store.db.execute(sql`create function refuse_poison() returns trigger language plpgsql as $$
      begin if new.model = 'poison' then raise exception 'poisoned row' using errcode = '22023'; end if; return new; end $$`);
    await store.db.execute(sql`create trigger refuse_poison before insert on responses for each row execute function refuse_poison()`);
    const request = (model: string) => protobufRequest('poison-app', [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE), attribute(GEN_AI.RESPONSE_MODEL, model)] })]);
    try {
      await withCollector(store, 1024 * 1024, async (collector) => {
        const blocker = await blockWrites(store);
        // The one writer takes the first request and waits on the lock; the next three wait together.
        const plug = post(collector.url, request('fine'), PROTOBUF);
        await until(() => collector.queueDepth().writing === 1);
        const together = ['fine', 'poison', 'fine'].map((model) => post(collector.url, request(model), PROTOBUF));
        await until(() => collector.queueDepth().requests === 4);
        await blocker.release();
        const [first, ...rest] = await Promise.all([plug, ...together]);
        assert.equal(first.status, 200);
        assert.deepEqual(rest.map((r) => r.status), [200, 400, 200]);
        assert.match(decodeRpcStatus(await rest[1].arrayBuffer()).message ?? '', /SQLSTATE 22023/);
        assert.equal(await rowCount(store, 'poison-app'), 3);
      }, 1);
    } finally {
      await store.db.execute(sql`drop trigger refuse_poison on responses`);
      await store.db.execute(sql`drop function refuse_poison()`);
    }
  });
});
