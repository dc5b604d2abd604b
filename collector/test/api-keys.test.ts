/*
 * Ingest API keys: created, listed and revoked through lib/api-keys, stored only as a
 * SHA-256; the collector requires one once any is active (or when told to), taking it the
 * way OTLP exporters send headers, and answers 401 with a message otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ATTR_KIND, KIND } from '@streamscope/instrumentation/contract';
import { eq } from 'drizzle-orm';
import { apiKeys } from '../../db/schema';
import { describeEachDatabase } from '../../test/support/databases';
import { createApiKey, hashApiKey, KEY_MARK, listApiKeys, revokeApiKey } from '../../lib/api-keys/index';
import { runKeysCli } from '../../cli/keys';
import { startCollector, type Collector, type CollectorOptions } from '../index';
import { attribute, decodeRpcStatus, jsonSpan, post, PROTOBUF, protobufRequest } from './support/otlp-requests';
import { recentHrTime, recordSpans } from './support/spans';

const execFileAsync = promisify(execFile);
const body = () => protobufRequest('keyed-app', [jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE)] })]);

describeEachDatabase('ingest API keys', (database) => {
  async function withCollector(options: Partial<CollectorOptions>, run: (collector: Collector) => Promise<void>): Promise<void> {
    const collector = await startCollector({ store: database().store, port: 0, ...options });
    try {
      await run(collector);
    } finally {
      await collector.close();
    }
  }

  test('before any key is created ingest is open; STREAMSCOPE_REQUIRE_API_KEY closes it', async () => {
    await withCollector({}, async (collector) => {
      assert.equal((await post(collector.url, body(), PROTOBUF)).status, 200);
    });
    await withCollector({ apiKeys: { requireKey: true } }, async (collector) => {
      const res = await post(collector.url, body(), PROTOBUF);
      assert.equal(res.status, 401);
      const status = decodeRpcStatus(await res.arrayBuffer());
      assert.equal(status.code, 16);
      assert.match(status.message ?? '', /API key is required/);
    });
  });

  test('a key is random, shown once, stored as its SHA-256 with a prefix, and listed without the secret', async () => {
    const { key, info } = await createApiKey(database().store, '  ci exporter ');
    const other = await createApiKey(database().store, 'second');
    assert.match(key, new RegExp(`^${KEY_MARK}[A-Za-z0-9_-]{32}$`));
    assert.notEqual(key, other.key);
    assert.equal(info.name, 'ci exporter');
    assert.ok(key.startsWith(info.prefix) && info.prefix.length < key.length / 2);
    const [row] = await database().store.db.select().from(apiKeys).where(eq(apiKeys.id, info.id));
    assert.equal(row.hash, hashApiKey(key));
    assert.ok(!JSON.stringify(row).includes(key.slice(info.prefix.length)));
    const listed = await listApiKeys(database().store);
    assert.deepEqual(listed.map((k) => k.name), ['ci exporter', 'second']);
    assert.ok(!('hash' in listed[0]));
    await assert.rejects(createApiKey(database().store, ' '), /needs a name/);
    await revokeApiKey(database().store, String(info.id));
    await revokeApiKey(database().store, other.info.prefix);
    assert.ok((await listApiKeys(database().store)).every((k) => k.revokedAt instanceof Date));
    assert.equal(await revokeApiKey(database().store, 'ssk_nothere'), null);
    await assert.rejects(revokeApiKey(database().store, KEY_MARK), /matches 2 keys/);
  });

  test('once a key exists, requests need it — as Bearer or x-api-key, as the official exporter sends it — and a revoked key stops working', async () => {
    const store = database().store;
    const { key, info } = await createApiKey(store, 'app');
    await withCollector({ apiKeys: { cacheMs: 0, lastUsedFlushMs: 0 } }, async (collector) => {
      const missing = await post(collector.url, body(), PROTOBUF);
      assert.equal(missing.status, 401);
      assert.match(decodeRpcStatus(await missing.arrayBuffer()).message ?? '', /Authorization: Bearer/);
      const almost = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
      const wrong = await post(collector.url, body(), { ...PROTOBUF, Authorization: `Bearer ${almost}` });
      assert.equal(wrong.status, 401);
      assert.match(decodeRpcStatus(await wrong.arrayBuffer()).message ?? '', /not valid/);
      assert.equal((await post(collector.url, body(), { ...PROTOBUF, Authorization: `Bearer ${key}` })).status, 200);
      assert.equal((await post(collector.url, body(), { ...PROTOBUF, 'x-api-key': key })).status, 200);

      const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces`, headers: { Authorization: `Bearer ${key}` } });
      const start = recentHrTime();
      const spans = recordSpans({}, [{ name: 'chat', startTime: start, endTime: [start[0] + 1, 0], attributes: { [ATTR_KIND]: KIND.RESPONSE } }]);
      const result = await new Promise<{ code: number }>((resolve) => exporter.export(spans, resolve));
      await exporter.shutdown();
      assert.equal(result.code, ExportResultCode.SUCCESS);

      // The only key revoked: ingest stays closed rather than opening to everyone.
      await revokeApiKey(store, info.prefix);
      // The verifier holds the keys for cacheMs (0 here) and reloads in the background.
      let status = 200;
      for (let i = 0; i < 50 && status === 200; i++) {
        status = (await post(collector.url, body(), { ...PROTOBUF, Authorization: `Bearer ${key}` })).status;
      }
      assert.equal(status, 401);
    });
    const [row] = await store.db.select().from(apiKeys).where(eq(apiKeys.id, info.id));
    assert.ok(row.lastUsedAt instanceof Date, 'last_used_at was recorded');
  });

  test('streamscope keys create | list | revoke, in process and as the command', async () => {
    const lines: string[] = [];
    const run = (...args: string[]) => runKeysCli(args, database().store, (line) => lines.push(line));
    assert.equal(await run('create', 'from', 'cli'), 0);
    const key = lines[1].trim();
    assert.match(key, /^ssk_/);
    assert.match(lines.join('\n'), /shown once/);
    lines.length = 0;
    assert.equal(await run('list'), 0);
    assert.match(lines[0], /^id +name +prefix +created +last used +revoked$/);
    assert.ok(lines.some((line) => line.includes('from cli') && line.includes(key.slice(0, 12))));
    lines.length = 0;
    assert.equal(await run('revoke', key.slice(0, 12)), 0);
    assert.match(lines[0], /revoked key \d+ "from cli"/);
    assert.equal(await run('revoke', 'ssk_nothere'), 1);
    assert.equal(await run('frobnicate'), 2);
    if (database().kind === 'postgres') {
      const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'bin/streamscope.ts', 'keys', 'list'], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, DATABASE_URL: database().databaseUrl },
      });
      assert.match(stdout, /from cli/);
    }
  });
});
