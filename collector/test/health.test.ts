/*
 * /healthz of a collector whose connections are all busy, as under a flood of retries after
 * an outage: transactions committing say the database is there without a probe of its own
 * waiting behind them; with none committed lately, the probe answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'drizzle-orm';
import { ATTR_KIND, KIND } from '@streamscope/instrumentation/contract';
import { useCollectorOnOwnPostgres } from './support/collector';
import { attribute, jsonSpan, post, PROTOBUF, protobufRequest } from './support/otlp-requests';

interface Health {
  status: string;
  database: { ok: boolean; lastCommitMsAgo?: number; latencyMs?: number; error?: string };
}

const running = useCollectorOnOwnPostgres(2);

async function health(): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${running().collector.url}/healthz`);
  return { status: res.status, body: (await res.json()) as Health };
}

test('with every connection busy, /healthz is ok while writes commit and times out once none has for 2 s', async () => {
  const { collector, store } = running();
  const span = jsonSpan({ attributes: [attribute(ATTR_KIND, KIND.RESPONSE)] });
  assert.equal((await post(collector.url, protobufRequest('health-app', [span]), PROTOBUF)).status, 200);
  const committed = performance.now();
  // Both of the store's connections, for longer than a probe waits.
  const busy = Promise.all([0, 1].map(() => store.db.execute(sql`select pg_sleep(5)`)));

  const during = await health();
  assert.equal(during.status, 200, JSON.stringify(during.body));
  assert.ok(during.body.database.lastCommitMsAgo! < 2000, JSON.stringify(during.body));

  await new Promise((resolve) => setTimeout(resolve, 2100 - (performance.now() - committed)));
  const stale = await health();
  assert.equal(stale.status, 503);
  assert.match(stale.body.database.error ?? '', /no answer within 2000 ms/);

  await busy;
  const idle = await health();
  assert.equal(idle.status, 200, JSON.stringify(idle.body));
  assert.equal(typeof idle.body.database.latencyMs, 'number');
});
