/*
 * Overload soak: a collector process under about twice what its 1 MiB write queue admits,
 * for a minute or more, once on Postgres and once on PGlite (a data directory on disk, as
 * `npm start` uses), one after the other in the same run. 48 official protobuf exporters
 * each keep a 200-span request in flight and retry what is refused; afterwards every
 * acknowledged span id is looked up in the database.
 *
 *   npx tsx bench/overload/index.ts [--seconds N]   (default 60)
 *
 * Reports per database: requests, 429s, spans acknowledged and stored, lost and
 * duplicated (both must be 0, else the run exits 1), queue peak, and the collector's
 * resident memory sampled every second. The load generator shares the machine's cores
 * with the collector, so rates are lower bounds; the load average is printed with them.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createCollectorDatabase } from '../../test/reliability/support/collector-process';
import { runOverload, type OverloadFigures } from '../../test/reliability/support/overload';
import { machine, printFinalJson, printTable } from '../support/report';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const SECONDS = Number(values.seconds);
if (!(SECONDS >= 10)) throw new Error('--seconds must be at least 10 (the first 5 s are warm-up)');

async function soak(kind: 'postgres' | 'pglite'): Promise<OverloadFigures> {
  const database = await createCollectorDatabase(kind);
  try {
    return await runOverload({ database, seconds: SECONDS });
  } finally {
    await database.drop();
  }
}

const loadBefore = loadavg()[0];
const runs = [await soak('postgres'), await soak('pglite')];
const loadAfter = loadavg()[0];

printTable(`overload soak, ${SECONDS} s each`, ['database', 'requests', '429', 'acknowledged', 'stored', 'lost', 'dup', 'spans/s', 'queue peak B', 'RSS MiB (min–max)', 'failed exports'],
  runs.map((r) => {
    const rss = r.samples.map((s) => s.rssMiB);
    return [r.database, r.requests, r.rejected429, r.spansAcknowledged, r.rows, r.lost, r.duplicates, r.spansPerSecondStored, r.queuePeakBytes, `${Math.min(...rss)}–${Math.max(...rss)}`, r.failedExports];
  }));
printFinalJson({
  benchmark: 'overload',
  workload: { seconds: SECONDS, workers: runs[0].workers, spansPerExport: runs[0].spansPerExport, queueBytes: runs[0].queueBytes, exporter: 'OTLPTraceExporter (protobuf), timeout 120 s' },
  machine: { ...machine(), loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadAfter.toFixed(2)) } },
  runs: runs.map(({ samples, ...totals }) => ({ ...totals, rssMiBEverySecond: samples.map((s) => s.rssMiB) })),
});
if (runs.some((r) => r.lost > 0 || r.duplicates > 0)) process.exitCode = 1;
