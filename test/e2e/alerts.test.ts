/*
 * The alerts views and HTTP API against the production build (run `npx next build` first),
 * served in this process by the same code `streamscope start` uses, over a Postgres
 * database. Evaluations are forced from the test with the collector's own evaluator, and
 * webhooks go to a receiver on a local port. Screenshots land in test-artifacts/alerts-*.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startAlertEvaluator } from '../../alerts';
import { ingest, responsesAt, startReceiver, TTFT_RULE, type Receiver } from '../../alerts/test/support';
import { startDashboard, type DashboardServer } from '../../cli/dashboard-server';
import { openStore, sharedStore, type Store } from '../../db/client';
import { migrateStore } from '../../db/migrate';
import { formatValue } from '../../alerts/rule';
import { ensureAdminCredential } from '../../lib/auth/credential';
import { createSessionToken, SESSION_COOKIE } from '../../lib/auth/session';
import { launchChromium } from '../support/browser';
import { createPostgresDatabase } from '../support/databases';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts', import.meta.url));
const PASSWORD = 'e2e-alerts-password';

let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
let store: Store;
let stateDir: string;
let dashboard: DashboardServer;
let receiver: Receiver;
let browser: Browser;
let page: Page;
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
  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});

after(async () => {
  await browser?.close();
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

async function screenshot(name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  // A full-page shot of a scrolled page draws the sticky top bar where the viewport was.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${ARTIFACTS}/alerts-${name}.png`, fullPage: true });
}

/** One evaluation by the collector's evaluator, its webhooks delivered and recorded. */
async function evaluateAt(now: Date) {
  const evaluator = startAlertEvaluator({ store, intervalMs: 3_600_000, now: () => now });
  const { evaluations } = await evaluator.tick();
  await evaluator.idle();
  await evaluator.stop();
  return evaluations;
}

const text = async (testId: string) => (await page.getByTestId(testId).textContent()) ?? '';

describe('the alerts views', () => {
  test('a new user signs in and is told how to create a rule', async () => {
    await page.goto(`${dashboard.url}/alerts`);
    await page.waitForURL(/\/login\?next=%2Falerts/);
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${dashboard.url}/alerts`);
    assert.match(await text('alerts-empty'), /npm run alerts -- apply rules\.json/);
    await screenshot('empty');
  });

  test('the form names a bad threshold next to its field, then creates the rule', async () => {
    await page.getByRole('link', { name: 'New rule' }).click();
    await page.waitForURL(/\/alerts\/new$/);
    await page.getByLabel('Name').fill('websocket ttft p99');
    await page.getByLabel('Metric').selectOption('ttft');
    await page.getByLabel('Statistic').selectOption('p99');
    await page.getByLabel('Threshold').fill('fast');
    await page.getByLabel('Pending for').fill('0s');
    await page.getByLabel('Transport').selectOption('websocket');
    await page.getByRole('button', { name: 'Add a webhook' }).click();
    await page.getByLabel('Webhook 1 URL').fill(receiver.url);
    await page.getByRole('button', { name: 'Create rule' }).click();

    const threshold = page.locator('[data-field="threshold"] .form-error');
    await threshold.waitFor();
    assert.match((await threshold.textContent()) ?? '', /^Must be a number/);
    assert.equal(await page.getByLabel('Threshold').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('.form-error').count(), 1);
    await screenshot('new-invalid');

    await page.getByLabel('Threshold').fill('300');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.waitForURL(/\/alerts\/\d+$/);
    assert.match(await text('rule-status'), /inactive TTFT p99 > 300 ms over 5m \(transport=websocket\)/);
    assert.match(await text('rule-status'), /not evaluated yet/);
  });

  test('editing the rule changes its condition', async () => {
    await page.getByLabel('Threshold').fill('0.25s');
    await page.getByLabel('Minimum responses').fill('2.5');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const minimum = page.locator('[data-field="minResponses"] .form-error');
    await minimum.waitFor();
    assert.match((await minimum.textContent()) ?? '', /^Must be a whole number of responses/);

    // The slow traffic below is twenty responses: enough for this rule.
    await page.getByLabel('Minimum responses').fill('20');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await page.getByTestId('rule-status').filter({ hasText: '> 250 ms' }).waitFor();
    assert.equal(await page.getByLabel('Threshold').inputValue(), '250');
    assert.match(await text('rule-status'), /TTFT p99 > 250 ms over 5m \(transport=websocket\), from 20 responses/);
  });

  test('an evaluation over slow traffic fires once there are enough responses: the state, the value and the webhook outcome show', async () => {
    await ingest(store, responsesAt(new Date(Date.now() - 1000), 10, { ttftMs: 900 }));
    assert.equal((await evaluateAt(new Date()))[0].value, null);
    await page.reload();
    assert.match(await text('rule-status'), /^inactive .* last value too few responses \(10 of 20\)/);

    await ingest(store, responsesAt(new Date(Date.now() - 1000), 10, { ttftMs: 900 }));
    const [{ value }] = await evaluateAt(new Date());
    assert.ok(value !== null && value > 250);
    assert.equal(receiver.requests.at(-1)?.body.state, 'firing');

    await page.reload();
    const shown = formatValue(value, 'ms');
    assert.match(await text('rule-status'), new RegExp(`^firing .* last value ${shown}`));
    const history = await text('alert-history');
    assert.match(history, new RegExp(`inactive → firing${shown}`));
    assert.match(history, /127\.0\.0\.1:\d+: delivered \(HTTP 200\) \(1 attempt\)/);
    await screenshot('firing');

    await page.getByRole('link', { name: '← Alerts' }).click();
    await page.waitForURL(`${dashboard.url}/alerts`);
    const row = await text('alerts-table');
    assert.match(row, new RegExp(`websocket ttft p99.*firing since .*${shown} \\(> 250 ms\\)`));
    await screenshot('list');

    await page.goto(`${dashboard.url}/`);
    assert.match(await text('firing-banner'), new RegExp(`1 alert firing:.*websocket ttft p99.*${shown}`));
    await screenshot('overview-firing');
    await page.goto(`${dashboard.url}/alerts`);
  });

  test('a test notification reaches the receiver and its outcome is shown', async () => {
    await page.getByTestId('alerts-table').getByRole('link', { name: 'websocket ttft p99' }).click();
    await page.waitForURL(/\/alerts\/\d+$/);
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Send test notification' }).click();
    await page.getByTestId('test-deliveries').waitFor();
    assert.match(await text('test-deliveries'), /delivered \(HTTP 200\)/);
    assert.equal(receiver.requests.length, before + 1);
    assert.equal(receiver.requests.at(-1)?.body.state, 'test');
    await screenshot('rule');
  });

  test('once the slow traffic has left the window the rule resolves, and the history shows both changes', async () => {
    await evaluateAt(new Date(Date.now() + 10 * 60_000));
    assert.equal(receiver.requests.at(-1)?.body.state, 'resolved');
    await page.reload();
    assert.match(await text('rule-status'), /^inactive .* last value no data/);
    const rows = page.getByTestId('alert-history').locator('tbody tr');
    assert.equal(await rows.count(), 2);
    assert.match((await rows.first().textContent()) ?? '', /firing → resolvedno data127\.0\.0\.1:\d+: delivered/);
    await screenshot('history');
  });

  test('deleting the rule returns to the empty list', async () => {
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete rule' }).click();
    await page.waitForURL(`${dashboard.url}/alerts`);
    await page.getByTestId('alerts-empty').waitFor();
    assert.deepEqual(((await (await api('/api/alerts')).json()) as { rules: unknown[] }).rules, []);
  });
});
