/*
 * One response in full: its row, its token arrival timeline, the distribution of its
 * inter-token gaps, and the connection that carried it.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../client';
import { connections, responses, type ConnectionRow, type ResponseRow } from '../schema';

export interface TokenPoint {
  /** 1-based index of the output event. */
  index: number;
  /** Arrival after the request was sent, ms. */
  offsetMs: number;
}

export interface HistogramBin {
  /** Lower and upper edge, ms. */
  fromMs: number;
  toMs: number;
  count: number;
}

export interface ResponseDetail {
  response: ResponseRow;
  tokens: TokenPoint[];
  /** Gaps between consecutive output events, ms, in arrival order. */
  gapsMs: number[];
  itlBins: HistogramBin[];
  connection: ConnectionRow | null;
  /** Responses carried by the same connection, this one included. */
  connectionResponses: number;
}

const ITL_BINS = 24;

/**
 * Equal-width bins from the shortest gap to the longest, so a stall shows as a lonely bar
 * on the right; gaps all alike make one bin.
 */
export function binGaps(gapsMs: readonly number[], bins = ITL_BINS): HistogramBin[] {
  if (gapsMs.length === 0) return [];
  const min = Math.min(...gapsMs);
  const max = Math.max(...gapsMs);
  if (max === min) return [{ fromMs: min, toMs: max, count: gapsMs.length }];
  const width = (max - min) / bins;
  const result = Array.from({ length: bins }, (_, i) => ({ fromMs: min + i * width, toMs: min + (i + 1) * width, count: 0 }));
  for (const gap of gapsMs) result[Math.min(bins - 1, Math.floor((gap - min) / width))].count += 1;
  return result;
}

export async function responseDetail(db: Db, traceId: string, spanId: string): Promise<ResponseDetail | null> {
  const [response] = await db
    .select()
    .from(responses)
    .where(and(eq(responses.traceId, traceId), eq(responses.spanId, spanId)))
    .limit(1);
  if (!response) return null;
  const offsets = response.tokenOffsetsUs ?? [];
  const tokens = offsets.map((us, i) => ({ index: i + 1, offsetMs: us / 1000 }));
  const gapsMs = tokens.slice(1).map((token, i) => token.offsetMs - tokens[i].offsetMs);
  let connection: ConnectionRow | null = null;
  let connectionResponses = 0;
  if (response.connectionId) {
    const [row] = await db
      .select()
      .from(connections)
      .where(eq(connections.connectionId, response.connectionId))
      .orderBy(desc(connections.openedAt))
      .limit(1);
    connection = row ?? null;
    connectionResponses = await db.$count(responses, eq(responses.connectionId, response.connectionId));
  }
  return { response, tokens, gapsMs, itlBins: binGaps(gapsMs), connection, connectionResponses };
}
