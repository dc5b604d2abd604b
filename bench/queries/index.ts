/*
 * Query benchmark: the dashboard's own queries (db/queries) over a large history.
 *
 *   npx tsx bench/queries/index.ts [--responses N] [--days N] [--runs N] [--only TEXT] [--smoke]
 *                                  [--database NAME] [--keep]
 *
 * Loads N responses (default 10M) over `days` (default 7) into a fresh Postgres database
 * (see dataset.ts), then for the last 1 h, 24 h and 7 d runs each view's full set of
 * queries as the dashboard does (in parallel, through the same functions) `runs` times,
 * and each query once more under EXPLAIN ANALYZE: server-side execution time, and whether
 * the plan reads raw rows with a sequential scan. `--only` keeps the views whose name
 * contains TEXT (to check one change without the slow ones). The database is dropped at the
 * end unless `--keep`; `--database NAME` loads into NAME, or reuses the history a previous
 * run loaded and kept there (database.ts).
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { openStore, type Db, type Store } from '../../db/client';
import { migrateStore } from '../../db/migrate';
import { compareTransports } from '../../db/queries/compare';
import { connectionsView } from '../../db/queries/connections';
import { exploreResponses } from '../../db/queries/explorer';
import type { DashboardFilter } from '../../db/queries/filter';
import { filterOptions, hasAnyResponses } from '../../db/queries/filter-options';
import { overview } from '../../db/queries/overview';
import { responseDetail } from '../../db/queries/response';
import { queryRows } from '../../db/rows';
import * as schema from '../../db/schema';
import { HOUR_MS } from '../../db/time-buckets';
import { machine, printFinalJson, printTable, quantile, round } from '../support/report';
import { MODELS, SERVICES } from '../support/workload';
import { openBenchDatabase, savedLoad, saveLoad, type SavedLoad } from './database';
import { loadDataset, type Dataset } from './dataset';

const { values: args } = parseArgs({
  options: {
    responses: { type: 'string' },
    days: { type: 'string' },
    runs: { type: 'string' },
    only: { type: 'string', default: '' },
    smoke: { type: 'boolean', default: false },
    database: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const RESPONSES = Number(args.responses ?? (args.smoke ? 200_000 : 10_000_000));
const DAYS = Number(args.days ?? 7);
const RUNS = Number(args.runs ?? (args.smoke ? 2 : 3));
const TARGET_P95_MS = 150;
const RANGES = { '1h': HOUR_MS, '24h': 24 * HOUR_MS, '7d': 7 * 24 * HOUR_MS } as const;
type RangeName = keyof typeof RANGES;

/** A raw table or one of its partitions. */
const RAW_RELATION = /^(responses|connections)(_p\d{8}|_default)?$/;
/** A sequential scan that reads fewer rows than this (an empty DEFAULT partition) is no concern. */
const SEQ_SCAN_ROWS_OF_CONCERN = 1000;

interface CapturedQuery {
  query: string;
  params: unknown[];
}

interface QueryReport {
  sql: string;
  serverMs: number;
  rawSeqScans: string[];
  usesRollups: boolean;
}

interface ViewReport {
  view: string;
  range: string;
  runsMs: number[];
  p50Ms: number | null;
  p95Ms: number | null;
  /** Sum of the view's queries' execution times under EXPLAIN ANALYZE (they run in parallel, so wall time is less). */
  serverMs: number;
  rawSeqScans: string[];
  queries: QueryReport[];
}

type View = (db: Db) => Promise<unknown>;

function views(dataset: Dataset, range: RangeName): Record<string, View> {
  const filter: DashboardFilter = { from: new Date(dataset.to.getTime() - RANGES[range]), to: dataset.to };
  return {
    overview: (db) => Promise.all([overview(db, filter), filterOptions(db, filter), hasAnyResponses(db)]),
    compare: (db) => Promise.all([compareTransports(db, filter), filterOptions(db, filter)]),
    connections: (db) => Promise.all([connectionsView(db, filter), filterOptions(db, filter)]),
    'explorer: newest page': (db) => exploreResponses(db, { filter }),
    'explorer: service+model': (db) => exploreResponses(db, { filter: { ...filter, service: SERVICES[0], model: MODELS[1] } }),
    'explorer: errors by TTFT': (db) => exploreResponses(db, { filter, status: 'error', sort: 'ttft', order: 'desc' }),
  };
}

/** Lookups that ignore the range: a search box and a response's page. */
function lookups(dataset: Dataset): Record<string, View> {
  const sample = dataset.samples[1];
  return {
    'explorer: search response id': (db) => exploreResponses(db, { filter: { from: dataset.from, to: dataset.to }, search: sample.responseId }),
    'explorer: search trace prefix': (db) => exploreResponses(db, { filter: { from: dataset.from, to: dataset.to }, search: sample.traceId.slice(0, 12) }),
    'response detail': (db) => responseDetail(db, sample.traceId, sample.spanId),
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

async function explain(store: Store, captured: CapturedQuery): Promise<QueryReport> {
  const [{ 'QUERY PLAN': [plan] }] = (await store.sql!.unsafe(`explain (analyze, format json) ${captured.query}`, captured.params as never[])) as unknown as {
    'QUERY PLAN': { Plan: PlanNode; 'Execution Time': number }[];
  }[];
  const rawSeqScans = new Set<string>();
  let usesRollups = false;
  walk(plan.Plan, (node) => {
    const relation = node['Relation Name'] ?? '';
    if (/^(connection_)?rollups_1[mh](_totals)?$/.test(relation)) usesRollups = true;
    const rowsRead = ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1);
    if (node['Node Type'] === 'Seq Scan' && RAW_RELATION.test(relation) && rowsRead >= SEQ_SCAN_ROWS_OF_CONCERN) rawSeqScans.add(relation.replace(/_p\d{8}$/, '_p*'));
  });
  return { sql: captured.query.replace(/\s+/g, ' ').slice(0, 160), serverMs: plan['Execution Time'], rawSeqScans: [...rawSeqScans], usesRollups };
}

async function measureView(store: Store, name: string, range: string, view: View): Promise<ViewReport> {
  let captured: CapturedQuery[] = [];
  const db = drizzle(store.sql!, { schema, logger: { logQuery: (query, params) => captured.push({ query, params }) } }) as unknown as Db;
  const runsMs: number[] = [];
  // One unmeasured run warms the cache, as a dashboard that is in use has it warm.
  for (let run = 0; run <= RUNS; run++) {
    captured = [];
    const started = performance.now();
    await view(db);
    if (run > 0) runsMs.push(performance.now() - started);
  }
  const queries: QueryReport[] = [];
  for (const query of captured) queries.push(await explain(store, query));
  return {
    view: name,
    range,
    runsMs: runsMs.map((ms) => round(ms) ?? 0),
    p50Ms: round(quantile(runsMs, 0.5)),
    p95Ms: round(quantile(runsMs, 0.95)),
    serverMs: round(queries.reduce((sum, q) => sum + q.serverMs, 0)) ?? 0,
    rawSeqScans: [...new Set(queries.flatMap((q) => q.rawSeqScans))],
    queries: queries.map((q) => ({ ...q, serverMs: round(q.serverMs) ?? 0 })),
  };
}

const diskFree = () => execFileSync('df', ['-h', '--output=avail', '/work'], { encoding: 'utf8' }).split('\n')[1]?.trim();

async function load(store: Store): Promise<SavedLoad> {
  const loadStarted = performance.now();
  const dataset = await loadDataset(store, {
    responses: RESPONSES,
    days: DAYS,
    end: new Date(),
    onProgress: (n) => process.stderr.write(`\rloaded ${n.toLocaleString('en-US')} responses`),
  });
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  console.error(`\nloaded ${dataset.responses.toLocaleString('en-US')} responses, ${dataset.connections.toLocaleString('en-US')} connections, ${dataset.rollupRows.toLocaleString('en-US')} rollup rows in ${loadSeconds.toFixed(0)} s (${dataset.hourlyRollups} hours rolled up in ${dataset.hourlyRollupSeconds.toFixed(1)} s); vacuum analyze…`);
  // What autovacuum does to a table soon after a load: statistics, and the visibility map index-only scans need.
  await store.db.execute(sql`vacuum analyze responses, connections, rollups_1m, rollups_1h, rollups_1h_totals, connection_rollups_1m, connection_rollups_1h`);
  const loaded = { dataset, loadSeconds };
  await saveLoad(store, loaded);
  return loaded;
}

async function main(): Promise<void> {
  console.error(`disk free on /work before: ${diskFree()}`);
  const database = await openBenchDatabase(args.database);
  const store = await openStore({ databaseUrl: database.url, maxConnections: 8 });
  try {
    await migrateStore(store);
    const previous = database.existed ? await savedLoad(store) : null;
    if (database.existed && !previous) throw new Error(`database ${database.name} holds no completed load; drop it or name another`);
    if (previous) console.error(`reusing the history loaded in ${database.name} (${previous.dataset.responses.toLocaleString('en-US')} responses, ${previous.dataset.from.toISOString()} to ${previous.dataset.to.toISOString()})`);
    const { dataset, loadSeconds } = previous ?? (await load(store));
    const days = (dataset.to.getTime() - dataset.from.getTime()) / (24 * HOUR_MS);
    const [{ size, connectionRollupRows }] = await queryRows<{ size: string; connectionRollupRows: number }>(store.db, sql`
      select pg_size_pretty(pg_database_size(current_database())) as size,
             (select count(*) from connection_rollups_1m)::int as "connectionRollupRows"`);
    console.error(`database size ${size}, disk free on /work: ${diskFree()}`);

    const selected = ([name]: [string, View]) => name.includes(args.only);
    const reports: ViewReport[] = [];
    for (const range of Object.keys(RANGES) as RangeName[]) {
      for (const [name, view] of Object.entries(views(dataset, range)).filter(selected)) {
        console.error(`${name} ${range}…`);
        reports.push(await measureView(store, name, range, view));
      }
    }
    for (const [name, view] of Object.entries(lookups(dataset)).filter(selected)) reports.push(await measureView(store, name, 'any', view));

    printTable(`Dashboard queries over ${dataset.responses.toLocaleString('en-US')} responses in ${days} days (${RUNS} runs each)`,
      ['view', 'range', 'p50 ms', 'p95 ms', 'server ms', 'queries', 'seq scans of raw rows'],
      reports.map((r) => [r.view, r.range, r.p50Ms, r.p95Ms, r.serverMs, r.queries.length, r.rawSeqScans.join(' ') || 'none']));
    const atWeek = reports.filter((r) => r.range === '7d' || r.range === 'any');
    const misses = atWeek.filter((r) => (r.p95Ms ?? Infinity) > TARGET_P95_MS || r.rawSeqScans.length > 0);
    console.log(`\n7-day views and lookups within p95 ≤ ${TARGET_P95_MS} ms and without raw sequential scans: ${atWeek.length - misses.length} of ${atWeek.length}`
      + (misses.length ? `; missing: ${misses.map((r) => r.view).join(', ')}` : ''));
    printFinalJson({
      benchmark: 'queries',
      workload: { responses: dataset.responses, connections: dataset.connections, rollupRows: dataset.rollupRows, connectionRollupRows, hourlyRollups: dataset.hourlyRollups, hourlyRollupSeconds: round(dataset.hourlyRollupSeconds), days, runs: RUNS, loadSeconds: round(loadSeconds), reusedLoad: previous !== null, databaseSize: size },
      machine: machine(),
      targetP95Ms: TARGET_P95_MS,
      views: reports,
    });
  } finally {
    await store.close();
    await database.release(args.keep);
    console.error(args.keep ? `database ${database.name} kept (--database ${database.name} reuses it)` : `database dropped; disk free on /work: ${diskFree()}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
