/*
 * Are the stored rollups exactly what the collector's own computeRollups() makes of the
 * stored raw rows? Shared by the multi-writer test and the two-collector benchmark phase:
 * whatever the interleaving of writers and retries, the answer must be yes.
 */
import type { Store } from '../../db/client';
import { computeRollups } from '../../db/ingest';
import { responses, rollups1m } from '../../db/schema';

const COUNTED = ['responses', 'errors', 'withOutput', 'inputTokens', 'outputTokens', 'generationTokens', 'bytesSent', 'bytesReceived'] as const;
/** Float sums: added in another order by each writer, so equal up to rounding. */
const SUMMED = ['generationSeconds', 'ttftSumMs', 'durationSumMs'] as const;
const EXACT = ['ttftMaxMs', 'durationMaxMs', 'itlMaxMs'] as const;
const HISTOGRAMS = ['ttftHist', 'itlHist', 'durationHist'] as const;

const key = (r: { bucket: number; service: string; model: string; transport: string }) => `${new Date(r.bucket).toISOString()} ${r.service}/${r.model}/${r.transport}`;
const sameHistogram = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, n]) => Number(b[k]) === Number(n));

export interface RollupCheck {
  rawRows: number;
  rollupRows: number;
  /** One line per differing rollup field; empty when the rollups match. */
  mismatches: string[];
}

export async function checkRollupsAgainstRawRows(store: Store): Promise<RollupCheck> {
  const raw = await store.db.select().from(responses);
  const stored = new Map((await store.db.select().from(rollups1m)).map((r) => [key({ ...r, bucket: r.bucket.getTime() }), r]));
  const expected = computeRollups(raw);
  const mismatches: string[] = [];
  for (const want of expected) {
    const name = key(want);
    const got = stored.get(name);
    stored.delete(name);
    if (!got) {
      mismatches.push(`${name}: missing`);
      continue;
    }
    for (const field of [...COUNTED, ...EXACT]) if (got[field] !== want[field]) mismatches.push(`${name}: ${field} ${got[field]} ≠ ${want[field]}`);
    for (const field of SUMMED) {
      if (Math.abs(got[field] - want[field]) > 1e-9 * Math.max(1, Math.abs(want[field]))) mismatches.push(`${name}: ${field} ${got[field]} ≠ ${want[field]}`);
    }
    for (const field of HISTOGRAMS) if (!sameHistogram(got[field], want[field])) mismatches.push(`${name}: ${field} differs`);
  }
  for (const name of stored.keys()) mismatches.push(`${name}: no raw rows`);
  return { rawRows: raw.length, rollupRows: expected.length, mismatches };
}
