/*
 * The README's run command, as a user runs it: `streamscope start` on a clean data
 * directory accepts spans from the official OTLP exporter into embedded PGlite, serves
 * the dashboard behind its login, and stops cleanly on Ctrl-C. Needs `next build` first
 * (the test script runs it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_KIND, ATTR_TRANSPORT, KIND, RESPONSE, TRANSPORT } from '@streamscope/instrumentation/contract';
import { openStore } from '../../db/client';
import { responses } from '../../db/schema';
import { startCli, type CliProcess } from './cli-process';

let start: CliProcess;

before(async () => {
  start = await startCli('start');
});

after(() => start.cleanUp());

/** The first match of `pattern` in the output, once it is there. */
const printed = (pattern: RegExp) => start.until(String(pattern), 90_000, () => start.output().match(pattern) ?? undefined);

test('start prints where to send spans and how to log in, stores exported spans, and stops on SIGINT', async () => {
  const [, collectorUrl] = await printed(/OTLP\/HTTP collector: (\S+)/);
  const [, dashboardUrl] = await printed(/dashboard:\s+(\S+)/);
  const [, password] = await printed(/login: admin \/ (\S+)/);
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

  assert.equal(await start.interrupt(), 0, start.output());

  // PGlite is single-opener: the row is readable only because start released the directory.
  const store = await openStore({ dataDir: start.pgliteDir });
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
