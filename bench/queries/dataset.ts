/*
 * Loads a large synthetic history fast: responses and connections by COPY, and the
 * per-minute rollups the collector would have written for exactly those rows, then the
 * hourly rollups the maintenance job makes of them.
 *
 * Traffic follows a daily cycle (0.5× to 1.5× the mean rate). Each minute holds the first
 * n rows of one fixed sequence of synthetic responses, n taken from a few levels: so the
 * COPY text of a row is a template with its ids and times overwritten in place (no
 * per-row serialisation), and a minute's rollups are the collector's own computeRollups()
 * of its level's rows, computed once per level and stamped with each minute's bucket.
 * Connection rollups are the collector's computeConnectionRollups() of the connection rows.
 */
import type { Store } from '../../db/client';
import { computeConnectionRollups } from '../../db/connection-rollups';
import { CONNECTION_COLUMNS, computeRollups, mergeConnectionRollups, mergeRollups, RESPONSE_COLUMNS, type RollupAccumulator } from '../../db/ingest';
import { rollUpHours } from '../../db/hourly-rollups';
import { DAY_MS, ensurePartitions } from '../../db/partitions';
import type { NewConnectionRow, NewResponseRow } from '../../db/schema';
import { bucketStart, MINUTE_MS } from '../../db/time-buckets';
import { copyInto, copyText } from '../support/copy';
import { syntheticResponse } from '../support/workload';

/** Distinct per-minute volumes; a minute's volume is the level nearest its place in the daily cycle. */
const LEVELS = 16;
/** Responses per connection: a persistent socket carries many. */
const RESPONSES_PER_CONNECTION = 50;
const ROLLUP_CHUNK = 2000;
const CONNECTION_ROLLUP_MINUTES = 60;

const hex = (value: number, width: number) => value.toString(16).padStart(width, '0');

export interface DatasetOptions {
  responses: number;
  days: number;
  /** The end of the loaded history (exclusive). */
  end: Date;
  /** Concurrent COPY streams. */
  streams?: number;
  onProgress?: (loaded: number) => void;
}

export interface Dataset {
  responses: number;
  connections: number;
  rollupRows: number;
  /** Hours the maintenance job rolled up from those minutes (all but the hour in progress). */
  hourlyRollups: number;
  hourlyRollupSeconds: number;
  from: Date;
  to: Date;
  /** A few stored responses for point lookups: ids a user would search for. */
  samples: { traceId: string; spanId: string; responseId: string }[];
}

/** Placeholders as long as the values that replace them; found once in the template text. */
const PLACEHOLDER = {
  traceId: 'T'.repeat(32),
  spanId: 'S'.repeat(16),
  responseId: `resp_${'R'.repeat(16)}`,
  connectionId: `conn-${'C'.repeat(6)}-${'K'.repeat(4)}`,
  startTime: new Date(Date.UTC(2001, 0, 1)),
};

interface Ids {
  traceId: string;
  spanId: string;
  responseId: string;
  connectionId: string;
}

/** Unique per (minute, row); the leading word scatters trace ids as random ones would. */
function idsOf(minute: number, row: number): Ids {
  const scatter = (Math.imul(minute * 2654435761 + row, 0x9e3779b1) >>> 0) || 1;
  return {
    traceId: `${hex(scatter, 8)}${hex(minute, 8)}${hex(row, 8)}00000001`,
    spanId: `${hex(row, 8)}${hex(minute, 8)}`,
    responseId: `resp_${hex(minute, 8)}${hex(row, 8)}`,
    connectionId: `conn-${hex(minute, 6)}-${hex(Math.floor(row / RESPONSES_PER_CONNECTION), 4)}`,
  };
}

/** One response's COPY line with the offsets of the fields rewritten per row. */
class LineTemplate {
  readonly bytes: Buffer;
  readonly offsets: Record<keyof Ids | 'startTime', number>;

  constructor(row: NewResponseRow) {
    this.bytes = Buffer.from(copyText(RESPONSE_COLUMNS, [{ ...row, ...PLACEHOLDER }]), 'latin1');
    const at = (text: string) => {
      const offset = this.bytes.indexOf(text, 0, 'latin1');
      if (offset < 0) throw new Error(`placeholder ${text} not found`);
      return offset;
    };
    this.offsets = {
      traceId: at(PLACEHOLDER.traceId),
      spanId: at(PLACEHOLDER.spanId),
      responseId: at(PLACEHOLDER.responseId),
      connectionId: at(PLACEHOLDER.connectionId),
      startTime: at(PLACEHOLDER.startTime.toISOString()),
    };
  }

  writeInto(target: Buffer, at: number, ids: Ids, startTime: number): number {
    this.bytes.copy(target, at);
    for (const key of ['traceId', 'spanId', 'responseId', 'connectionId'] as const) target.write(ids[key], at + this.offsets[key], 'latin1');
    target.write(new Date(startTime).toISOString(), at + this.offsets.startTime, 'latin1');
    return at + this.bytes.length;
  }
}

/** Volume level of a minute: a daily cycle peaking mid-afternoon UTC. */
function levelOf(minuteStart: number): number {
  const phase = ((minuteStart % DAY_MS) / DAY_MS) * 2 * Math.PI;
  return Math.round(((1 - Math.cos(phase - Math.PI / 6)) / 2) * (LEVELS - 1));
}

export async function loadDataset(store: Store, options: DatasetOptions): Promise<Dataset> {
  const end = bucketStart(options.end.getTime(), MINUTE_MS);
  const minutes = options.days * 1440;
  const start = end - minutes * MINUTE_MS;
  const mean = options.responses / minutes;
  // Level l carries (0.5 + l / (LEVELS − 1)) × mean responses; over a day the levels average to the mean.
  const volumes = Array.from({ length: LEVELS }, (_, l) => Math.max(1, Math.round(mean * (0.5 + l / (LEVELS - 1)))));
  const rows = Array.from({ length: volumes[LEVELS - 1] }, (_, i) => syntheticResponse(i, PLACEHOLDER.startTime, 11));
  const lines = rows.map((row) => new LineTemplate(row));
  const lineBytes = lines.reduce((sum, line) => sum + line.bytes.length, 0);
  // Rows of a minute are spread evenly over it; rollups of a level, bucketed at minute 0.
  const spread = (n: number, i: number) => Math.floor((i * MINUTE_MS) / n);
  const levelRollups = volumes.map((n) => computeRollups(rows.slice(0, n).map((row, i) => ({ ...row, startTime: new Date(spread(n, i)) }))));

  await ensurePartitions(store, { from: new Date(start), to: new Date(end) });
  let loaded = 0;
  let connectionCount = 0;
  const streams = options.streams ?? 2;
  const responseChunks = function* (stream: number): Generator<Buffer> {
    for (let m = stream; m < minutes; m += streams) {
      const minuteStart = start + m * MINUTE_MS;
      const n = volumes[levelOf(minuteStart)];
      const chunk = Buffer.allocUnsafe(lineBytes);
      let at = 0;
      for (let i = 0; i < n; i++) at = lines[i].writeInto(chunk, at, idsOf(m, i), minuteStart + spread(n, i));
      loaded += n;
      if (m % 500 === 0) options.onProgress?.(loaded);
      yield chunk.subarray(0, at);
    }
  };
  const connectionsOfMinute = (m: number): NewConnectionRow[] => {
    const minuteStart = start + m * MINUTE_MS;
    const n = volumes[levelOf(minuteStart)];
    const batch: NewConnectionRow[] = [];
    for (let first = 0; first < n; first += RESPONSES_PER_CONNECTION) {
      const last = Math.min(n, first + RESPONSES_PER_CONNECTION) - 1;
      const row = rows[first];
      const handshake = { dnsMs: 2 + (first % 7), tcpMs: 18 + (first % 11), tlsMs: 35 + (first % 13), upgradeMs: row.transport === 'websocket' ? 24 : null };
      const openedAt = minuteStart + spread(n, first) - 80;
      batch.push({
        traceId: `${hex(m, 16)}${hex(first, 16)}`,
        spanId: hex(m * 65536 + first, 16),
        connectionId: idsOf(m, first).connectionId,
        service: row.service,
        transport: row.transport,
        serverAddress: row.provider === 'anthropic' ? 'api.anthropic.com' : 'api.openai.com',
        serverPort: 443,
        openedAt: new Date(openedAt),
        closedAt: new Date(minuteStart + spread(n, last) + rows[last].durationMs + 1000),
        ...handshake,
        responses: last - first + 1,
        bytesSent: 40_000,
        bytesReceived: 900_000,
        framesSent: last - first + 1,
        framesReceived: (last - first + 1) * 104,
        closeCode: 1000,
        status: 'ok',
      });
    }
    return batch;
  };
  const connectionChunks = function* (): Generator<string> {
    for (let m = 0; m < minutes; m++) {
      const batch = connectionsOfMinute(m);
      connectionCount += batch.length;
      yield copyText(CONNECTION_COLUMNS, batch);
    }
  };
  await Promise.all([
    ...Array.from({ length: streams }, (_, s) => copyInto(store.sql!, 'responses', RESPONSE_COLUMNS, responseChunks(s))),
    copyInto(store.sql!, 'connections', CONNECTION_COLUMNS, connectionChunks()),
  ]);

  let pending: RollupAccumulator[] = [];
  let rollupRows = 0;
  for (let m = 0; m < minutes; m++) {
    const minuteStart = start + m * MINUTE_MS;
    for (const acc of levelRollups[levelOf(minuteStart)]) pending.push({ ...acc, bucket: minuteStart });
    if (pending.length >= ROLLUP_CHUNK || m === minutes - 1) {
      await mergeRollups(store.db, pending);
      rollupRows += pending.length;
      pending = [];
    }
  }
  // The connection rollups the collector computes of each batch it inserts: here, batches
  // of CONNECTION_ROLLUP_MINUTES minutes of connections.
  for (let m = 0; m < minutes; m += CONNECTION_ROLLUP_MINUTES) {
    const batch = Array.from({ length: Math.min(CONNECTION_ROLLUP_MINUTES, minutes - m) }, (_, i) => connectionsOfMinute(m + i)).flat();
    await mergeConnectionRollups(store.db, computeConnectionRollups(batch));
  }
  const rollupStarted = performance.now();
  const { hours } = await rollUpHours(store, { now: new Date(end) });
  const hourlyRollupSeconds = (performance.now() - rollupStarted) / 1000;
  const sampleMinutes = [0.1, 0.5, 0.9, 0.99].map((f) => Math.floor(minutes * f));
  return {
    responses: loaded,
    connections: connectionCount,
    rollupRows,
    hourlyRollups: hours.length,
    hourlyRollupSeconds,
    from: new Date(start),
    to: new Date(end),
    samples: sampleMinutes.map((m) => {
      const ids = idsOf(m, 0);
      return { traceId: ids.traceId, spanId: ids.spanId, responseId: ids.responseId };
    }),
  };
}
