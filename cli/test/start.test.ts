/*
 * The README's run command, as a user runs it: `streamscope start` on a clean data
 * directory accepts spans from the official OTLP exporter into embedded PGlite, serves
 * the dashboard behind its login, and stops cleanly on Ctrl-C. Needs `next build` first
 * (the test script runs it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_KIND, ATTR_TRANSPORT, KIND, RESPONSE, TRANSPORT } from '@streamscope/instrumentation/contract';
import { openStore } from '../../db/client';
import { responses } from '../../db/schema';
import { repoRoot } from '../process';

let child: ChildProcess;
let stateDir: string;
let output = '';

function waitForOutput(pattern: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`)), timeoutMs);
    const check = () => {
      const match = output.match(pattern);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        resolve(match);
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => reject(new Error(`start exited with ${code}:\n${output}`)));
    check();
  });
}

before(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'streamscope-start-'));
  child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bin/streamscope.ts'), 'start'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: '',
      STREAMSCOPE_DATA_DIR: path.join(stateDir, 'pglite'),
      STREAMSCOPE_STATE_DIR: stateDir,
      STREAMSCOPE_PORT: '0',
      STREAMSCOPE_OTLP_PORT: '0',
      STREAMSCOPE_ADMIN_PASSWORD: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
});

after(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await rm(stateDir, { recursive: true, force: true });
});

test('start prints where to send spans and how to log in, stores exported spans, and stops on SIGINT', async () => {
  const [, collectorUrl] = await waitForOutput(/OTLP\/HTTP collector: (\S+)/);
  const [, dashboardUrl] = await waitForOutput(/dashboard:\s+(\S+)/);
  const [, password] = await waitForOutput(/login: admin \/ (\S+)/);
  assert.ok(password.length >= 16, 'a generated password is printed once');

  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'readme-check' }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: collectorUrl }))],
  });
  const span = provider.getTracer('check').startSpan('chat gpt-test', {
    attributes: {
      [ATTR_KIND]: KIND.RESPONSE,
      [ATTR_TRANSPORT]: TRANSPORT.WEBSOCKET,
      'gen_ai.request.model': 'gpt-test',
      [RESPONSE.TTFT_MS]: 42.5,
    },
  });
  span.end();
  await provider.forceFlush();
  await provider.shutdown();

  const login = await fetch(dashboardUrl, { redirect: 'manual' });
  assert.equal(login.status, 307);
  assert.match(login.headers.get('location') ?? '', /\/login$/);

  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, output);

  // PGlite is single-opener: the row is readable only because start released the directory.
  const store = await openStore({ dataDir: path.join(stateDir, 'pglite') });
  try {
    const rows = await store.db.select().from(responses);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].service, 'readme-check');
    assert.equal(rows[0].ttftMs, 42.5);
    assert.equal(rows[0].transport, 'websocket');
  } finally {
    await store.close();
  }
});
