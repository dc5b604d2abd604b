/*
 * Sustained overload, on Postgres and on PGlite: about twice what a 1 MiB write queue
 * admits at once. The collector sheds the excess (429; the exporters wait and retry), its
 * queue never passes its bound, its memory stays flat, and every span it acknowledged is
 * stored once. The collector runs as its own process so its memory is measured apart
 * from the load. bench/overload runs the same for a minute or more and reports figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCollectorDatabase } from './support/collector-process';
import { OVERLOAD_QUEUE_BYTES, runOverload } from './support/overload';

/** Long enough for the warm-up samples and several rounds of 429 and retry. */
const SECONDS = 15;
/**
 * Resident memory may grow this much over its level once the load is on, not more: V8
 * sizes its heap up by tens of MiB in the first minute (up to 80 MiB seen on Postgres),
 * while keeping even 1 kB per acknowledged span would pass this within the run.
 */
const MAX_RSS_GROWTH_MIB = 128;

for (const kind of ['postgres', 'pglite'] as const) describe(`overload [${kind}]`, () => {
  let database: Awaited<ReturnType<typeof createCollectorDatabase>>;
  before(async () => {
    database = await createCollectorDatabase(kind);
  });
  after(async () => {
    await database?.drop();
  });

  test('twice what the write queue admits: 429s shed the excess, memory stays flat, every acknowledged span stored once', async () => {
    const figures = await runOverload({ database, seconds: SECONDS });
    const { samples, ...totals } = figures;
    console.log(JSON.stringify({ test: 'overload', ...totals, rssMiB: samples.map((s) => s.rssMiB) }));
    // PGlite runs on the collector's event loop too; decoding in worker threads leaves that
    // loop free to read and queue requests between writes, so it sheds the excess as well.
    assert.ok(figures.rejected429 > figures.requests / 10, 'the load was not an overload: too few 429s');
    assert.ok(figures.queuePeakBytes <= OVERLOAD_QUEUE_BYTES, 'the queue held more than its bound');
    assert.ok(figures.rssGrowthMiB < MAX_RSS_GROWTH_MIB, `resident memory grew by ${figures.rssGrowthMiB} MiB under steady load`);
    assert.ok(figures.spansAcknowledged > 0, 'nothing was acknowledged');
    assert.equal(figures.lost, 0);
    assert.equal(figures.duplicates, 0);
  });
});
