/*
 * Ingest benchmark: how many responses per second one collector commits to Postgres,
 * against the physical limit measured in the same run.
 *
 *   npx tsx bench/ingest/index.ts [--seconds N] [--concurrency N] [--smoke]
 *
 * Phases, each on a freshly emptied table:
 *   1. collector → Postgres: a load client (child process) keeps `concurrency` OTLP
 *      protobuf requests of 512 response spans (100 token offsets each) in flight;
 *      committed responses/s, ack latency, collector RSS; with decode threads and decoding
 *      on the event loop (STREAMSCOPE_DECODE_WORKERS=0) in alternating rounds.
 *   2. ceiling: the same rows COPYed straight into the same table by postgres-js (one and
 *      two streams); the collector's figure as a fraction of the best.
 *   3. the official path: BatchSpanProcessor + OTLPTraceExporter (protobuf) pipelines.
 *   4. two collector processes on the database, requests spread over both and every 10th
 *      sent to both: nothing lost, nothing stored twice, rollups equal to those computed
 *      from the raw rows (the run fails otherwise).
 *   5. collector → PGlite (the embedded default), same load, decode threads and the event
 *      loop (which PGlite shares) alternating.
 *   6. the protobuf decoders side by side: CPU per request of the wire reader the collector
 *      uses and of protobufjs's reflection decoder, alternating (decode-compare.ts).
 * The collector runs in this process; its RSS is this process's.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { startCollector } from '../../collector';
import { decodeTraceRequest } from '../../collector/otlp/decode';
import { defaultPrepareWorkers } from '../../collector/prepare-pool';
import { translateSpans } from '../../collector/translate';
import { openStore, type Store } from '../../db/client';
import { RESPONSE_COLUMNS } from '../../db/ingest';
import { migrateStore } from '../../db/migrate';
import { DAY_MS, ensurePartitions } from '../../db/partitions';
import { queryRows } from '../../db/rows';
import { createPostgresDatabase } from '../../test/support/databases';
import { copyInto, responsesCopyText } from '../support/copy';
import { checkRollupsAgainstRawRows } from '../support/rollup-check';
import { machine, printFinalJson, printTable, quantile, round } from '../support/report';
import { TOKENS_PER_RESPONSE } from '../support/workload';
import { compareDecoders } from './decode-compare';
import { captureTemplates, SPANS_PER_REQUEST, TEMPLATES, type ClientCommand, type ClientMessage } from './load';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds ?? (args.smoke ? 3 : 30));
/** The side phases (ceiling, PGlite, exporter) need less time to settle on a figure. */
const SIDE_SECONDS = args.smoke ? 2 : Math.min(SECONDS, 15);
const WARMUP_SECONDS = args.smoke ? 1 : 3;
const CONCURRENCY = Number(args.concurrency ?? 4);
const CLIENT = fileURLToPath(new URL('./client.ts', import.meta.url));
const COLLECTOR_PROCESS = fileURLToPath(new URL('./collector-process.ts', import.meta.url));
/** In the two-collector phase, every n-th request is delivered to both collectors. */
const DUPLICATE_EVERY = 10;
/** Alternating rounds of decode threads vs the event loop (Postgres in SECONDS, PGlite in SIDE_SECONDS per mode). */
const POSTGRES_ROUNDS = 3;
const PGLITE_ROUNDS = 2;
/** Alternating rounds of the two protobuf decoders, and requests each decoder prepares per round. */
const DECODER_ROUNDS = args.smoke ? 2 : 4;
const DECODER_REQUESTS = args.smoke ? 5 : 30;
/** What the measured collectors run with by default (STREAMSCOPE_DECODE_WORKERS or one per core but one). */
const DECODE_WORKERS = process.env.STREAMSCOPE_DECODE_WORKERS ? Number(process.env.STREAMSCOPE_DECODE_WORKERS) : defaultPrepareWorkers();

interface PhaseResult {
  responsesPerSecond: number;
  requests: number;
  failures: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  peakRssMb: number;
  committed: number;
  spansSent: number;
  spansAcknowledged: number;
}

/** A client command before the collector's URL is known (Omit applied to each member of the union). */
type WithoutUrl<C> = C extends unknown ? Omit<C, 'url'> : never;
type CommandWithoutUrl = WithoutUrl<ClientCommand>;

/** Starts the load client; resolves its messages in order. */
function startClient(command: ClientCommand): { child: ChildProcess; next: (type: ClientMessage['type']) => Promise<ClientMessage> } {
  const child = fork(CLIENT, { execArgv: ['--import', 'tsx'] });
  const queue: ClientMessage[] = [];
  const waiters: ((message: ClientMessage) => void)[] = [];
  child.on('message', (message: ClientMessage) => {
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`load client exited (${code})`))));
  exited.catch(() => {});
  child.send(command);
  return {
    child,
    async next(type) {
      const message = queue.shift() ?? (await Promise.race([new Promise<ClientMessage>((resolve) => waiters.push(resolve)), exited]));
      if (message.type !== type) throw new Error(`load client said ${message.type}, expected ${type}`);
      return message;
    },
  };
}

/**
 * Runs a collector on `store` under the client's load and measures the window. Committed
 * responses are counted in the database, so collectors in other processes count too.
 */
async function measureCollector(store: Store, command: CommandWithoutUrl, decodeWorkers?: number): Promise<PhaseResult> {
  const collector = await startCollector({ store, port: 0, decodeWorkers });
  const client = startClient({ ...command, url: collector.url } as ClientCommand);
  try {
    await client.next('ready');
    await client.next('measuring');
    const before = (await counts(store)).raw;
    const started = performance.now();
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    await new Promise((resolve) => setTimeout(resolve, command.seconds * 1000));
    const committed = (await counts(store)).raw - before;
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const done = (await client.next('done')) as Extract<ClientMessage, { type: 'done' }>;
    return {
      responsesPerSecond: committed / elapsed,
      requests: done.requests,
      failures: done.failures,
      latencyP50Ms: round(quantile(done.latenciesMs, 0.5)),
      latencyP99Ms: round(quantile(done.latenciesMs, 0.99)),
      peakRssMb: Math.round(peakRss / 2 ** 20),
      committed,
      spansSent: done.spansSent,
      spansAcknowledged: done.spansAcknowledged,
    };
  } finally {
    client.child.kill();
    await collector.close();
  }
}

/** A COPY text body of 512 rows whose trace and span ids are rewritten per chunk. */
class CopyTemplate {
  private readonly bytes: Buffer;
  private readonly idOffsets: number[];

  constructor(rows: ReturnType<typeof translateSpans>['responses']) {
    this.bytes = Buffer.from(responsesCopyText(rows), 'latin1');
    // trace_id and span_id are the first two fields of every line: 32 + 1 + 16 hex characters.
    this.idOffsets = [];
    for (let at = 0; at < this.bytes.length; at = this.bytes.indexOf(10, at) + 1) this.idOffsets.push(at);
  }

  get rowCount(): number {
    return this.idOffsets.length;
  }

  render(run: number, chunk: number): Buffer {
    const body = Buffer.from(this.bytes);
    const prefix = `${run.toString(16).padStart(8, '0')}${chunk.toString(16).padStart(16, '0')}`;
    this.idOffsets.forEach((at, i) => body.write(`${prefix}${i.toString(16).padStart(8, '0')}`, at, 'latin1'));
    return body;
  }
}

/** Rows/s of `streams` concurrent COPY statements fed for `seconds`, committed. */
async function copyCeiling(store: Store, templates: CopyTemplate[], streams: number, seconds: number, run: number): Promise<number> {
  let rows = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: streams }, async (_, stream) => {
    function* chunks() {
      for (let n = 0; performance.now() < deadline; n++) {
        const template = templates[n % templates.length];
        rows += template.rowCount;
        yield template.render(run + stream, n);
      }
    }
    await copyInto(store.sql!, 'responses', RESPONSE_COLUMNS, chunks());
  }));
  return rows / ((performance.now() - started) / 1000);
}

/** A collector in its own process on the same database, as a second replica. */
async function startCollectorProcess(databaseUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = fork(COLLECTOR_PROCESS, [databaseUrl], { execArgv: ['--import', 'tsx'] });
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`second collector exited (${code})`)));
  });
  return {
    url,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}

async function emptyTables(store: Store): Promise<void> {
  await store.db.execute(sql`truncate responses, connections, rollups_1m`);
}

/** Responses/s of one round of each decode mode. */
interface DecodeRound {
  threads: number;
  eventLoop: number;
}

/**
 * The same load on a collector with decode threads and on one decoding on its event loop,
 * in alternating rounds of `command.seconds / rounds` each (tables emptied between), so
 * load from outside the benchmark falls on both alike. Counts and bytes add up over the
 * rounds; rates and latencies are the rounds' means, RSS the peak.
 */
async function alternateDecode(store: Store, command: Omit<Extract<CommandWithoutUrl, { mode: 'replay' }>, 'run'>, rounds: number, firstRun: number) {
  const results: { threads: PhaseResult[]; eventLoop: PhaseResult[] } = { threads: [], eventLoop: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [mode, decodeWorkers] of [['threads', DECODE_WORKERS], ['eventLoop', 0]] as const) {
      await emptyTables(store);
      const run = firstRun + round * 2 + (decodeWorkers === 0 ? 1 : 0);
      results[mode].push(await measureCollector(store, { ...command, run, seconds: command.seconds / rounds }, decodeWorkers));
      await expectRollupsCountRawRows(store);
    }
  }
  return {
    threads: combine(results.threads),
    eventLoop: combine(results.eventLoop),
    rounds: results.threads.map((r, i): DecodeRound => ({ threads: Math.round(r.responsesPerSecond), eventLoop: Math.round(results.eventLoop[i].responsesPerSecond) })),
  };
}

function combine(results: PhaseResult[]): PhaseResult {
  const mean = (pick: (r: PhaseResult) => number | null) => results.reduce((total, r) => total + (pick(r) ?? 0), 0) / results.length;
  const sum = (pick: (r: PhaseResult) => number) => results.reduce((total, r) => total + pick(r), 0);
  return {
    responsesPerSecond: mean((r) => r.responsesPerSecond),
    requests: sum((r) => r.requests),
    failures: sum((r) => r.failures),
    latencyP50Ms: round(mean((r) => r.latencyP50Ms)),
    latencyP99Ms: round(mean((r) => r.latencyP99Ms)),
    peakRssMb: Math.max(...results.map((r) => r.peakRssMb)),
    committed: sum((r) => r.committed),
    spansSent: sum((r) => r.spansSent),
    spansAcknowledged: sum((r) => r.spansAcknowledged),
  };
}

async function expectRollupsCountRawRows(store: Store): Promise<void> {
  const { raw, rolled } = await counts(store);
  if (rolled !== raw) throw new Error(`rollups count ${rolled} responses, raw rows ${raw}`);
}

async function counts(store: Store): Promise<{ raw: number; rolled: number }> {
  const [row] = await queryRows<{ raw: number; rolled: number }>(store.db, sql`
    select (select count(*)::int from responses) as raw, (select coalesce(sum(responses), 0)::int from rollups_1m) as rolled`);
  return row;
}

async function prepare(store: Store): Promise<void> {
  await migrateStore(store);
  await ensurePartitions(store, { from: new Date(Date.now() - DAY_MS), to: new Date(Date.now() + DAY_MS) });
}

async function main(): Promise<void> {
  const database = await createPostgresDatabase();
  const store = await openStore({ databaseUrl: database.url, maxConnections: 16 });
  const pgliteDir = await mkdtemp(path.join(os.tmpdir(), 'streamscope-bench-'));
  try {
    await prepare(store);
    const [{ version }] = await queryRows<{ version: string }>(store.db, sql`select split_part(current_setting('server_version'), ' ', 1) as version`);
    const templates = await captureTemplates();
    // The ceiling stores exactly what the collector stores: the captured bodies, decoded and translated.
    const copyTemplates = templates.map((t) => new CopyTemplate(translateSpans(decodeTraceRequest(t.render(1, 0, Date.now()), 'protobuf').spans).responses));
    const load = { warmupSeconds: WARMUP_SECONDS, seconds: SECONDS, concurrency: CONCURRENCY };

    console.error(`collector → Postgres ${version}: ${SECONDS} s with decode threads and ${SECONDS} s without, alternating, ${CONCURRENCY} requests in flight…`);
    const { threads: postgres, eventLoop: postgresEventLoop, rounds: postgresRounds } =
      await alternateDecode(store, { mode: 'replay', ...load }, POSTGRES_ROUNDS, 0x100);

    console.error('COPY ceiling…');
    await emptyTables(store);
    const copyOne = await copyCeiling(store, copyTemplates, 1, SIDE_SECONDS, 0x1000);
    await emptyTables(store);
    const copyTwo = await copyCeiling(store, copyTemplates, 2, SIDE_SECONDS, 0x2000);
    const ceiling = Math.max(copyOne, copyTwo);

    console.error('official exporter → collector → Postgres…');
    await emptyTables(store);
    const official = await measureCollector(store, { mode: 'exporter', ...load, seconds: SIDE_SECONDS });

    console.error('two collector processes → Postgres, with duplicate deliveries…');
    await emptyTables(store);
    const second = await startCollectorProcess(database.url);
    let two: PhaseResult;
    try {
      two = await measureCollector(store, { mode: 'replay', run: 4, ...load, seconds: SIDE_SECONDS, otherUrls: [second.url], duplicateEvery: DUPLICATE_EVERY });
    } finally {
      await second.stop();
    }
    const twoCheck = await checkRollupsAgainstRawRows(store);
    // Nothing lost: every acknowledged span is stored. No duplicates: no more rows than distinct spans sent.
    const twoConsistent = twoCheck.mismatches.length === 0 && twoCheck.rawRows >= two.spansAcknowledged && twoCheck.rawRows <= two.spansSent;

    console.error('collector → PGlite…');
    const pglite = await openStore({ dataDir: pgliteDir });
    let embedded: PhaseResult;
    let embeddedEventLoop: PhaseResult;
    let pgliteRounds: DecodeRound[];
    try {
      await prepare(pglite);
      ({ threads: embedded, eventLoop: embeddedEventLoop, rounds: pgliteRounds } =
        await alternateDecode(pglite, { mode: 'replay', ...load, seconds: SIDE_SECONDS }, PGLITE_ROUNDS, 0x200));
    } finally {
      await pglite.close();
    }

    console.error('protobuf decoders side by side…');
    const decoders = await compareDecoders({
      bodies: templates.map((t, i) => new Uint8Array(t.render(0x300, i, Date.now()))),
      rounds: DECODER_ROUNDS,
      requestsPerRound: DECODER_REQUESTS,
    });

    const ratio = postgres.responsesPerSecond / ceiling;
    const phase = (name: string, r: PhaseResult) => [name, Math.round(r.responsesPerSecond), r.latencyP50Ms, r.latencyP99Ms, r.peakRssMb, r.failures];
    printTable(`Ingest: ${SPANS_PER_REQUEST} response spans per request, ${TOKENS_PER_RESPONSE} token offsets each`, ['path', 'responses/s', 'p50 ms', 'p99 ms', 'RSS MB', 'failed'], [
      phase(`collector → Postgres ${version} (${CONCURRENCY} in flight, ${DECODE_WORKERS} decode threads)`, postgres),
      phase('collector → Postgres, decoding on the event loop', postgresEventLoop),
      ['COPY ceiling, 1 stream', Math.round(copyOne), null, null, null, null],
      ['COPY ceiling, 2 streams', Math.round(copyTwo), null, null, null, null],
      phase(`official exporter (${CONCURRENCY} pipelines; flush time)`, official),
      phase(`two collector processes (every ${DUPLICATE_EVERY}th request sent to both)`, two),
      phase(`collector → PGlite (${DECODE_WORKERS} decode threads)`, embedded),
      phase('collector → PGlite, decoding on the event loop', embeddedEventLoop),
    ]);
    console.log(`\ntwo collectors: ${twoCheck.rawRows} rows stored of ${two.spansAcknowledged} acknowledged and ${two.spansSent} distinct sent; `
      + `rollups ${twoCheck.mismatches.length === 0 ? 'equal' : 'NOT equal'} to those computed from the raw rows (${twoCheck.rollupRows} rollup rows)`
      + (twoCheck.mismatches.length ? `: ${twoCheck.mismatches.slice(0, 3).join('; ')}` : ''));
    console.log(`collector / COPY ceiling = ${(ratio * 100).toFixed(1)} % (target ≥ 50 %); PGlite ${Math.round(embedded.responsesPerSecond)} responses/s (target ≥ 10,000)`);
    const { reader, reflection } = decoders.cpuMsPerRequest;
    console.log(`decode + translate of one request, CPU: wire reader ${reader} ms, reflection decoder ${reflection} ms (rounds ${decoders.rounds.map((r) => `${r.reader}/${r.reflection}`).join(', ')})`);
    printFinalJson({
      benchmark: 'ingest',
      workload: { spansPerRequest: SPANS_PER_REQUEST, tokenOffsetsPerResponse: TOKENS_PER_RESPONSE, distinctBodies: TEMPLATES, concurrency: CONCURRENCY, seconds: SECONDS, sideSeconds: SIDE_SECONDS, warmupSeconds: WARMUP_SECONDS, decodeWorkers: DECODE_WORKERS },
      machine: { ...machine(), postgres: version },
      collectorPostgres: postgres,
      collectorPostgresEventLoopDecode: postgresEventLoop,
      postgresRounds,
      ratioEventLoopDecodeToCeiling: round(postgresEventLoop.responsesPerSecond / ceiling, 3),
      copyCeiling: { oneStream: Math.round(copyOne), twoStreams: Math.round(copyTwo), best: Math.round(ceiling) },
      ratioToCeiling: round(ratio, 3),
      officialExporter: official,
      twoCollectors: { ...two, duplicateEvery: DUPLICATE_EVERY, rowsStored: twoCheck.rawRows, rollupMismatches: twoCheck.mismatches.length, consistent: twoConsistent },
      collectorPglite: embedded,
      collectorPgliteEventLoopDecode: embeddedEventLoop,
      pgliteRounds,
      decoders: { ...decoders, requestsPerRound: DECODER_REQUESTS },
    });
    if (!twoConsistent) process.exitCode = 1;
  } finally {
    await store.close();
    await database.drop();
    await rm(pgliteDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
