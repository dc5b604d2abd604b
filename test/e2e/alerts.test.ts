/*
 * The alerts views and HTTP API against the production build (run `npx next build` first),
 * served in this process by the same code `streamscope start` uses, over a Postgres
 * database. Evaluations are forced from the test with the collector's own evaluator, and
 * webhooks go to a receiver on a local port.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startReceiver, TTFT_RULE, type Receiver } from '../../alerts/test/support';
import { startDashboard, type DashboardServer } from '../../cli/dashboard-server';
import { openStore, sharedStore, type Store } from '../../db/client';
import { migrateStore } from '../../db/migrate';
import { ensureAdminCredential } from '../../lib/auth/credential';
import { createSessionToken, SESSION_COOKIE } from '../../lib/auth/session';
import { createPostgresDatabase } from '../support/databases';

const PASSWORD = 'e2e-alerts-password';

let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
let store: Store;
let stateDir: string;
let dashboard: DashboardServer;
let receiver: Receiver;
let session: string;

before(async () => {
  database = await createPostgresDatabase();
  store = await openStore({ databaseUrl: database.url, maxConnections: 2 });
  await migrateStore(store);
  stateDir = await mkdtemp(path.join(tmpdir(), 'streamscope-alerts-e2e-'));
  process.env.DATABASE_URL = database.url;
  process.env.STREAMSCOPE_STATE_DIR = stateDir;
  process.env.STREAMSCOPE_ADMIN_PASSWORD = PASSWORD;
  session = `${SESSION_COOKIE}=${createSessionToken((await ensureAdminCredential()).credential)}`;
  dashboard = await startDashboard({ port: 0, host: '127.0.0.1' });
  receiver = await startReceiver();
});

after(async () => {
  await receiver?.close();
  await dashboard?.close();
  // The dashboard's route handlers and pages opened the process-wide store.
  await (await sharedStore()).close();
  await store?.close();
  await database?.drop();
  await rm(stateDir, { recursive: true, force: true });
});

/** A request to the dashboard as a signed-in browser on its own origin would send it. */
function api(pathname: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  return fetch(`${dashboard.url}${pathname}`, {
    method: init.method ?? 'GET',
    body: init.body,
    headers: { cookie: session, origin: dashboard.url, 'content-type': 'application/json', ...init.headers },
  });
}

describe('the alerts API', () => {
  test('answers 401 without a session', async () => {
    const response = await fetch(`${dashboard.url}/api/alerts`);
    assert.equal(response.status, 401);
  });

  test('rejects a bad rule with 400 naming the field', async () => {
    const response = await api('/api/alerts', { method: 'POST', body: JSON.stringify({ ...TTFT_RULE, threshold: 'fast' }) });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { errors: { field: string; message: string }[] };
    assert.deepEqual(body.errors.map((e) => e.field), ['threshold']);
  });

  test('rejects a body that is not JSON with 400 saying so', async () => {
    const response = await api('/api/alerts', { method: 'POST', body: '{"name": ' });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { errors: { message: string }[] }).errors[0].message, /not valid JSON/);
  });

  test('refuses a mutation from a foreign origin with 403 and changes nothing', async () => {
    for (const origin of ['http://evil.example', 'null']) {
      const response = await api('/api/alerts', { method: 'POST', body: JSON.stringify(TTFT_RULE), headers: { origin } });
      assert.equal(response.status, 403);
    }
    const list = (await (await api('/api/alerts')).json()) as { rules: unknown[] };
    assert.deepEqual(list.rules, []);
  });

  test('creates, reads, updates, tests and deletes a rule', async () => {
    const created = await api('/api/alerts', { method: 'POST', body: JSON.stringify({ ...TTFT_RULE, webhooks: [receiver.url] }) });
    assert.equal(created.status, 201);
    const { rule } = (await created.json()) as { rule: { id: number; threshold: number } };
    assert.equal(rule.threshold, 300);

    const patched = await api(`/api/alerts/${rule.id}`, { method: 'PATCH', body: JSON.stringify({ threshold: '0.5s' }) });
    assert.equal(((await patched.json()) as { rule: { threshold: number } }).rule.threshold, 500);
    assert.equal((await api(`/api/alerts/${rule.id}`)).status, 200);
    assert.deepEqual(await (await api(`/api/alerts/${rule.id}/history`)).json(), { events: [] });

    const tested = await api(`/api/alerts/${rule.id}/test`, { method: 'POST' });
    assert.equal(((await tested.json()) as { ok: boolean }).ok, true);
    assert.equal(receiver.requests.at(-1)?.body.state, 'test');

    assert.equal((await api(`/api/alerts/${rule.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await api(`/api/alerts/${rule.id}`)).status, 404);
  });
});
