/*
 * The dashboard in a real browser: Next's production build served by a custom server in
 * this process, against a Postgres database seeded with traffic of known figures. Run
 * `npx next build` first (test/run.sh does). Screenshots of every view land in
 * test-artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import next from 'next';
import type { Browser, Page, Request } from 'playwright-core';
import { openStore, sharedStore } from '../../db/client';
import { RELATIVE_ACCURACY } from '../../db/histogram';
import { writeBatch } from '../../db/ingest';
import { migrateStore } from '../../db/migrate';
import {
  BATCH_RESPONSES,
  exactQuantile,
  HANDSHAKE,
  isSseError,
  SEED_MINUTES,
  SSE_RESPONSES,
  seedTraffic,
  ttftMs,
  WS_CONNECTIONS,
  WS_RESPONSES,
} from '../../db/queries/test/seed';
import { formatValue } from '../../lib/ui/format';
import { launchChromium } from '../support/browser';
import { createPostgresDatabase } from '../support/databases';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const PASSWORD = 'e2e-admin-password';
const MINUTE = 60_000;

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
const ALL_TTFT = [...range(WS_RESPONSES, ttftMs.websocket), ...range(SSE_RESPONSES, ttftMs.sse), ...range(BATCH_RESPONSES, ttftMs.http)];
const RECENT_RESPONSES = WS_RESPONSES + SSE_RESPONSES + BATCH_RESPONSES;
const SSE_ERRORS = range(SSE_RESPONSES, (i) => i).filter(isSseError).length;

let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
let stateDir: string;
let server: Server;
let app: ReturnType<typeof next>;
let handle: ReturnType<ReturnType<typeof next>['getRequestHandler']> | undefined;
let browser: Browser;
let page: Page;
let baseUrl: string;

before(async () => {
  database = await createPostgresDatabase();
  const store = await openStore({ databaseUrl: database.url });
  await migrateStore(store);
  // The same traffic twice: ending two minutes ago (inside 15m and 1h), and three hours
  // earlier (inside 6h only), so changing the range changes the numbers.
  const recent = Math.floor((Date.now() - (SEED_MINUTES + 2) * MINUTE) / MINUTE) * MINUTE;
  await writeBatch(store, seedTraffic(recent));
  await writeBatch(store, seedTraffic(recent - 3 * 60 * MINUTE, 1));
  await store.close();

  stateDir = await mkdtemp(path.join(tmpdir(), 'streamscope-e2e-'));
  process.env.DATABASE_URL = database.url;
  process.env.STREAMSCOPE_STATE_DIR = stateDir;
  process.env.STREAMSCOPE_ADMIN_PASSWORD = PASSWORD;
  // Listen first: Next must be told its port, or a server action's redirect is fetched from :3000.
  server = createServer((request, response) => void handle?.(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  app = next({ dev: false, dir: ROOT, hostname: '127.0.0.1', port, quiet: true });
  await app.prepare();
  handle = app.getRequestHandler();

  await mkdir(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
  await app?.close();
  // Next's server components opened the process-wide store; it holds the database open.
  await (await sharedStore()).close();
  await database?.drop();
  await rm(stateDir, { recursive: true, force: true });
});

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/**
 * Polls a tile until it shows `expected`, or a figure `accepts` takes: a client-side
 * navigation renders a moment after the URL changes.
 */
async function expectTile(id: string, expected: string | { accepts: (shown: string) => boolean; description: string }): Promise<void> {
  const accepts = typeof expected === 'string' ? (shown: string) => shown === expected : expected.accepts;
  const tile = page.getByTestId(`tile-${id}-value`);
  let shown = '';
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await page.waitForTimeout(100)) {
    shown = (await tile.textContent({ timeout: 10_000 }))?.trim() ?? '';
    if (accepts(shown)) return;
  }
  assert.fail(`tile ${id} shows ${shown}, expected ${typeof expected === 'string' ? expected : expected.description}`);
}

/**
 * A figure in ms within the histograms' relative error of `exact` (ranges over 15 minutes
 * read the rollups), allowing for the half unit the tile rounds to.
 */
function withinAccuracy(exact: number): { accepts: (shown: string) => boolean; description: string } {
  return {
    accepts: (shown) => {
      const match = /^([\d,.]+) ms$/.exec(shown);
      return match !== null && Math.abs(Number(match[1].replace(/,/g, '')) - exact) <= exact * RELATIVE_ACCURACY + 0.5;
    },
    description: `${formatValue(exact, 'ms')} ± ${RELATIVE_ACCURACY * 100} %`,
  };
}

test('unauthenticated requests are sent to the login page, API routes get 401', async () => {
  const api = await fetch(`${baseUrl}/api/anything`, { redirect: 'manual' });
  assert.equal(api.status, 401);
  await page.goto(`${baseUrl}/compare?range=1h`);
  await page.waitForURL(/\/login\?next=/);
  await screenshot('login');
});

test('logging in sets an httpOnly, SameSite session cookie and returns to the page asked for', async () => {
  await page.getByLabel('Admin password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Not getByRole('alert'): Next's route announcer has that role too.
  const error = page.getByTestId('login-error');
  await error.waitFor();
  assert.match((await error.textContent()) ?? '', /Wrong password/);

  await page.getByLabel('Admin password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/compare\?range=1h/);
  const [cookie] = await page.context().cookies();
  assert.equal(cookie.name, 'streamscope_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
});

test('the overview shows the seeded figures', async () => {
  await page.goto(`${baseUrl}/?range=1h`);
  await page.waitForURL(/range=1h/);
  await page.locator('[data-testid=chart-ttft] .recharts-line').first().waitFor();
  await expectTile('responses', formatValue(RECENT_RESPONSES, 'count'));
  await expectTile('ttft', withinAccuracy(exactQuantile(ALL_TTFT, 0.5)));
  await expectTile('errors', formatValue(SSE_ERRORS / RECENT_RESPONSES, 'ratio'));
  // Nothing streamed in the last minute; half the WebSockets of each seeding never closed.
  await expectTile('connections', formatValue(WS_CONNECTIONS, 'count'));
  await screenshot('overview');
});

test('changing the time range and a filter changes the figures and the URL', async () => {
  await page.getByRole('button', { name: '6h', exact: true }).click();
  await page.waitForURL(/range=6h/);
  await expectTile('responses', formatValue(2 * RECENT_RESPONSES, 'count'));

  await page.getByLabel('Service').selectOption('batch-worker');
  await page.waitForURL(/service=batch-worker/);
  await expectTile('responses', formatValue(2 * BATCH_RESPONSES, 'count'));
  await page.locator('[data-testid=chart-responses] .recharts-line').first().waitFor();
  await screenshot('overview-6h-batch-worker');

  await page.getByRole('button', { name: '15m', exact: true }).click();
  await page.waitForURL(/range=15m/);
  assert.match(page.url(), /service=batch-worker/);
  await expectTile('responses', formatValue(BATCH_RESPONSES, 'count'));
});

test('compare states the WebSocket difference in words', async () => {
  await page.goto(`${baseUrl}/compare?range=1h&service=chat-api`);
  await page.waitForURL(/\/compare/);
  const sentences = (await page.getByTestId('compare-sentences').textContent()) ?? '';
  const wsP50 = exactQuantile(range(WS_RESPONSES, ttftMs.websocket), 0.5);
  const sseP50 = exactQuantile(range(SSE_RESPONSES, ttftMs.sse), 0.5);
  // Each p50 comes from the rollups, within RELATIVE_ACCURACY of exact.
  const lower = (ws: number, sse: number) => Math.round((1 - ws / sse) * 100);
  const fewest = lower(wsP50 * (1 + RELATIVE_ACCURACY), sseP50 * (1 - RELATIVE_ACCURACY));
  const most = lower(wsP50 * (1 - RELATIVE_ACCURACY), sseP50 * (1 + RELATIVE_ACCURACY));
  const stated = /WebSocket TTFT p50 is (\d+) % lower than SSE/.exec(sentences);
  assert.ok(stated, sentences);
  const percent = Number(stated[1]);
  assert.ok(percent >= fewest && percent <= most, `${percent} % lower, expected ${fewest}–${most} %`);
  // 200 responses a side bound a p50 on both sides, and a p99 only from below: the p99s'
  // intervals overlap, so that difference is not called.
  const row = (metric: string) => page.getByRole('row').filter({ has: page.getByRole('cell', { name: metric, exact: false }) }).first();
  assert.match((await row('TTFT p50').getByRole('cell').nth(1).getAttribute('title')) ?? '', /^95 % interval: [\d.]+ ms to [\d.]+ ms$/);
  assert.match((await row('TTFT p99').getByRole('cell').nth(1).getAttribute('title')) ?? '', /or more \(too few responses to bound it above\)$/);
  assert.match((await row('TTFT p99').textContent()) ?? '', /not clear/);
  assert.doesNotMatch((await row('TTFT p50').textContent()) ?? '', /not clear/);
  await page.locator('[data-testid=compare-chart] .recharts-bar-rectangle').first().waitFor();
  await screenshot('compare');
});

test('the explorer finds a response and shows its token timeline', async () => {
  await page.goto(`${baseUrl}/explorer?range=1h`);
  await page.waitForURL(/\/explorer/);
  await page.getByTestId('explorer-table').waitFor();
  await screenshot('explorer');

  await page.getByLabel('Search responses').fill('resp_websocket_7');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/q=resp_websocket_7/);
  await page.getByRole('link', { name: 'resp_websocket_7', exact: true }).click();
  await page.waitForURL(/\/explorer\/a0+7\//);
  const timeline = page.getByTestId('token-timeline');
  await timeline.locator('.recharts-scatter-symbol').first().waitFor();
  assert.equal(await timeline.locator('.recharts-scatter-symbol').count(), 20);
  assert.match((await timeline.textContent()) ?? '', new RegExp(`TTFT ${formatValue(ttftMs.websocket(7), 'ms')}`));
  await page.getByTestId('itl-histogram').locator('.recharts-bar-rectangle').first().waitFor();
  const connection = (await page.getByTestId('response-connection').textContent()) ?? '';
  assert.match(connection, /ws-3/);
  // The seeded socket 3 never closed: what the panel shows is its latest open report.
  assert.match(connection, /closednot yet: the figures are those of its latest open report/);
  assert.ok(connection.includes(`connect${formatValue(HANDSHAKE.connectMs, 'ms')}`), connection);
  await screenshot('response');
});

test('the connections view breaks handshakes down by phase', async () => {
  await page.goto(`${baseUrl}/connections?range=1h`);
  await page.waitForURL(/\/connections/);
  await page.locator('[data-testid=chart-phases-by-transport] .recharts-bar-rectangle').first().waitFor();
  assert.match((await page.getByTestId('connections-summary').textContent()) ?? '', /WebSocket/);
  await screenshot('connections');
});

test('a handshake reported as one connect figure is drawn and tabled as such', async () => {
  // fetch over TLS: undici reports DNS + TCP + TLS as one figure.
  const store = await openStore({ databaseUrl: database.url });
  await writeBatch(store, {
    responses: [],
    connections: [{
      traceId: 'f'.repeat(32), spanId: 'f'.repeat(16), connectionId: 'tls-fetch-1', service: 'tls-fetch', transport: 'sse',
      openedAt: new Date(Date.now() - 5 * MINUTE), closedAt: new Date(Date.now() - 4 * MINUTE), connectMs: 87.5, responses: 1, status: 'ok',
    }],
  });
  await store.close();
  await page.goto(`${baseUrl}/connections?range=1h&service=tls-fetch`);
  await page.waitForURL(/service=tls-fetch/);
  const chart = page.getByTestId('chart-phases-by-transport');
  await chart.locator('.recharts-bar-rectangle').first().waitFor();
  assert.equal(await chart.locator('.recharts-bar-rectangle').count(), 1, 'one segment: the connect time');
  assert.match((await chart.textContent()) ?? '', /connect \(not split\)/);
  assert.match((await page.getByTestId('connections-summary').textContent()) ?? '', new RegExp(formatValue(87.5, 'ms')));
});

test('a range without data says so', async () => {
  const from = new Date(Date.now() - 30 * 24 * 60 * MINUTE).toISOString();
  const to = new Date(Date.now() - 29 * 24 * 60 * MINUTE).toISOString();
  await page.goto(`${baseUrl}/?range=custom&from=${from}&to=${to}`);
  await page.waitForURL(/range=custom/);
  await page.getByTestId('empty-range').waitFor();
  await screenshot('empty-range');
});

test('a database without any data tells a new user how to send some', async () => {
  const store = await openStore({ databaseUrl: database.url });
  await store.db.execute(sql`truncate responses, connections, rollups_1m`);
  await store.close();
  await page.goto(`${baseUrl}/?range=1h`);
  const empty = page.getByTestId('empty-state');
  await empty.waitFor();
  assert.match((await empty.textContent()) ?? '', /new StreamscopeInstrumentation\(\)[\s\S]*npm run demo/);
  await screenshot('empty-state');
});

test('an ingest API key is created from the dashboard, shown once, and revoked', async () => {
  await page.goto(`${baseUrl}/keys`);
  await page.getByLabel('Name').fill('checkout-service');
  await page.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByTestId('new-key');
  await shown.waitFor();
  const key = /ssk_\S+/.exec((await shown.textContent()) ?? '')?.[0];
  assert.ok(key, 'the new key is shown');
  await screenshot('keys');
  const table = page.getByTestId('keys-table');
  await table.filter({ hasText: 'checkout-service' }).waitFor();
  assert.ok(!((await table.textContent()) ?? '').includes(key), 'the list shows a prefix, never the key');
  const row = table.getByRole('row', { name: /checkout-service/ });
  // Revoking asks first; dismissed, nothing is sent and the key stays valid.
  const posts: string[] = [];
  const onRequest = (request: Request) => void (request.method() === 'POST' && posts.push(request.url()));
  page.on('request', onRequest);
  const dismissed = new Promise<string>((resolve) => page.once('dialog', (dialog) => void dialog.dismiss().then(() => resolve(dialog.message()))));
  await row.getByRole('button', { name: 'Revoke' }).click();
  assert.match(await dismissed, /Revoke the key "checkout-service"\?/);
  await page.reload();
  page.off('request', onRequest);
  assert.deepEqual(posts, []);
  assert.equal(await row.filter({ hasText: /revoked/i }).count(), 0);
  page.once('dialog', (dialog) => void dialog.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.filter({ hasText: /revoked/i }).waitFor();
});

test('signing out ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(`${baseUrl}/explorer`);
  await page.waitForURL(/\/login\?next=%2Fexplorer/);
});

test('repeated wrong passwords are refused for a while, before the password is even checked', async () => {
  // Last in the file: after this the test's address is locked out for the rest of the minute.
  const error = page.getByTestId('login-error');
  let message = '';
  const submit = async (password: string) => {
    await page.getByLabel('Admin password').fill(password);
    // One server-action round trip at a time: the message of the previous one is still shown.
    await Promise.all([
      page.waitForResponse((response) => response.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    // The button reads "Signing in…" until the answer is rendered, in the same update as its
    // message: read before that, the message would be the previous attempt's.
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await error.waitFor();
    return (await error.textContent()) ?? '';
  };
  for (let attempt = 1; attempt <= 11 && !/Too many/.test(message); attempt++) message = await submit(`wrong-${attempt}`);
  assert.match(message, /Too many sign-in attempts\. Try again in \d+ s\./);
  // Even the right password is refused until the window passes.
  assert.match(await submit(PASSWORD), /Too many/);
  assert.match(page.url(), /\/login/);
});
