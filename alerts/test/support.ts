/*
 * Test peers for the alerts suites: traffic written through the real ingest path, a
 * webhook receiver on a local port, and a clock the tests move by hand.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../../db/client';
import { writeBatch } from '../../db/ingest';
import { sql } from 'drizzle-orm';
import type { AlertRule, NewConnectionRow, NewResponseRow } from '../../db/schema';
import { validateRule, type RuleDefinition, type RuleInput } from '../rule';

/** Half a minute into a minute, so a window's first bucket is never the current one. */
export const START = Date.UTC(2026, 10, 27, 10, 0, 30);

export class Clock {
  private ms = START;
  now = () => new Date(this.ms);
  /** A second ago: where traffic seen by an evaluation at now() lands (windows end before now). */
  recent = () => new Date(this.ms - 1000);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

let nextSpan = 1;
const spanIds = () => {
  const n = nextSpan++;
  return { traceId: n.toString(16).padStart(32, '0'), spanId: n.toString(16).padStart(16, '0') };
};

/** `count` completed responses at `at` with the given TTFT (ms). */
export function responsesAt(at: Date, count: number, overrides: Partial<NewResponseRow> = {}): NewResponseRow[] {
  return Array.from({ length: count }, () => ({
    ...spanIds(),
    service: 'chat-api',
    model: 'gpt-test',
    transport: 'websocket',
    startTime: at,
    ttftMs: 100,
    durationMs: 600,
    outputTokens: 50,
    tokenOffsetsUs: [100_000, 110_000, 130_000],
    status: 'ok',
    ...overrides,
  }));
}

export function connectionAt(at: Date, overrides: Partial<NewConnectionRow> = {}): NewConnectionRow {
  return {
    ...spanIds(),
    connectionId: `conn-${nextSpan}`,
    service: 'chat-api',
    transport: 'websocket',
    openedAt: at,
    dnsMs: 5,
    tcpMs: 20,
    tlsMs: 40,
    upgradeMs: 35,
    responses: 10,
    status: 'ok',
    ...overrides,
  };
}

export async function ingest(store: Store, responses: NewResponseRow[], connections: NewConnectionRow[] = []): Promise<void> {
  await writeBatch(store, { responses, connections });
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * A webhook receiver on 127.0.0.1. `respond` decides each answer from the request's
 * ordinal (0-based); returning 'hang' never answers.
 */
export async function startReceiver(respond: (n: number) => number | 'hang' = () => 200) {
  const requests: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const n = requests.length;
      requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const status = respond(n);
      if (status !== 'hang') res.writeHead(status).end();
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) waiter.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    requests,
    /** Resolves once `count` requests have arrived. */
    received(count: number): Promise<void> {
      return requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Empties the tables the alerts suites write, so each test starts from nothing. */
export async function clearTables(store: Store): Promise<void> {
  await store.db.execute(sql`truncate alert_events, alert_rules, rollups_1m, responses, connections`);
}

export const TTFT_RULE: RuleInput = {
  name: 'websocket ttft p99',
  metric: 'ttft',
  statistic: 'p99',
  comparison: '>',
  threshold: '300ms',
  window: '1m',
  filters: { transport: 'websocket' },
};

/** TTFT_RULE with changes, validated. */
export function definition(input: Partial<RuleInput> = {}): RuleDefinition {
  const validation = validateRule({ ...TTFT_RULE, ...input }, {});
  if (!validation.ok) throw new Error(JSON.stringify(validation.errors));
  return validation.rule;
}

/** A stored-looking rule row, for code that takes one without a database. */
export function ruleRow(input: Partial<RuleInput> = {}, row: Partial<AlertRule> = {}): AlertRule {
  const at = new Date(START);
  return {
    id: 1, ...definition(input), state: 'inactive', stateSince: null, lastValue: null, lastResponses: null, lastEvaluatedAt: null,
    createdAt: at, updatedAt: at, ...row,
  };
}
