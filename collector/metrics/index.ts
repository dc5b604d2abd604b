/*
 * POST /v1/metrics: the GenAI semantic-convention histograms merged into rollups_1m, so a
 * service that sends only metrics still gets the Overview's rates and percentiles (at the
 * resolution of its histogram buckets, see ./rollups.ts).
 *
 * Unlike spans, metric points carry no id. A delta point is claimed by a key (its series,
 * start and end) in the transaction that merges it; a cumulative point adds its difference
 * from its series' last merged point, read and replaced under a row lock in the same
 * transaction (db/metric-points.ts). Either way a point counts once whichever collector a
 * retry reaches, and a request answered 503 counts in full when it comes again. The reply
 * follows OTLP/HTTP as for traces: an
 * ExportMetricsServiceResponse (partial success when points were rejected), a 400 when
 * nothing in the request could be used, a 503 when the database could not take the write.
 */
import protojson from 'protobufjs/ext/protojson.js';
import type { Db, Store } from '../../db/client';
import { mergeRollups } from '../../db/ingest';
import { claimMetricPoints, lockMetricSeries, saveMetricSeries } from '../../db/metric-points';
import { RequestError, WriteUnavailableError } from '../errors';
import type { OtlpEncoding } from '../otlp/decode';
import { ExportMetricsServiceRequest } from '../otlp/messages';
import { decodeMetricsRequest, type DecodedMetrics } from './decode';
import { deltaPointKey, planIncrements, seriesKey, toRollups } from './rollups';

export { GEN_AI_HISTOGRAMS } from './decode';

export const METRICS_PATH = '/v1/metrics';

/**
 * Instrumentation scopes whose spans already become rows and rollups: merging their
 * metrics too would count every response twice. Our instrumentation and OpenLIT send both
 * by default; OpenLLMetry and OpenInference send no GenAI metrics from these packages.
 */
export const DEFAULT_IGNORED_SCOPES: readonly string[] = ['@streamscope/instrumentation', 'openlit'];

export interface MetricsExportOptions {
  /** Defaults to DEFAULT_IGNORED_SCOPES; pass [] for a service that sends metrics only. */
  ignoredScopes?: readonly string[];
  nowMs?: number;
}

export interface MetricsExportResult {
  /** GenAI histogram points merged (a cumulative point with nothing new counts as accepted). */
  acceptedPoints: number;
  /** GenAI-named points that could not be used; the message says why. */
  rejectedPoints: number;
  /** Points of other metrics or ignored scopes, accepted and not stored. */
  ignoredPoints: number;
  /** '' on full success; otherwise the partial-success error message. */
  message: string;
}

/** At most this many rejections are spelled out in a message; the count covers the rest. */
const REJECTIONS_SHOWN = 5;

export async function handleMetricsExport(
  store: Store,
  body: Buffer,
  encoding: OtlpEncoding,
  options: MetricsExportOptions = {},
): Promise<MetricsExportResult> {
  const decoded = decodeMetricsRequest(body, encoding, {
    ignoredScopes: new Set(options.ignoredScopes ?? DEFAULT_IGNORED_SCOPES),
    nowMs: options.nowMs ?? Date.now(),
  });
  const message = describeRejections(decoded);
  if (decoded.rejected.length > 0 && decoded.points.length === 0 && decoded.ignored === 0) {
    throw new RequestError(400, message);
  }
  const cumulative = decoded.points.filter((point) => point.cumulative);
  const deltas = decoded.points.filter((point) => !point.cumulative);
  const deltaKeys = deltas.map(deltaPointKey);
  const seriesKeys = cumulative.map(seriesKey);
  try {
    await store.db.transaction(async (tx) => {
      const db = tx as unknown as Db;
      const claimed = await claimMetricPoints(db, deltaKeys);
      const plan = planIncrements(cumulative, seriesKeys, await lockMetricSeries(db, seriesKeys));
      // A key repeated in the request is claimed once, and counts once.
      const fresh = deltas.filter((_, i) => claimed.delete(deltaKeys[i]));
      await mergeRollups(db, toRollups([...plan.increments, ...fresh]));
      await saveMetricSeries(db, plan.latest);
    });
  } catch (error) {
    throw new WriteUnavailableError(`the database could not merge the metrics, retry later: ${(error as Error).message}`, { cause: error });
  }
  return { acceptedPoints: decoded.points.length, rejectedPoints: decoded.rejected.length, ignoredPoints: decoded.ignored, message };
}

function describeRejections({ rejected }: DecodedMetrics): string {
  if (rejected.length === 0) return '';
  const shown = rejected.slice(0, REJECTIONS_SHOWN).map((r) => `${r.point}: ${r.reason}`);
  const more = rejected.length > REJECTIONS_SHOWN ? `; and ${rejected.length - REJECTIONS_SHOWN} more` : '';
  return `${rejected.length} data points rejected: ${shown.join('; ')}${more}`;
}

const ExportMetricsServiceResponse = ExportMetricsServiceRequest.root.lookupType(
  'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
);

/** The success body; an empty partial success is full success, so that is the empty message. */
export function encodeExportMetricsResponse(encoding: OtlpEncoding, rejectedDataPoints = 0, errorMessage = ''): Buffer {
  const value = rejectedDataPoints > 0 || errorMessage ? { partialSuccess: { rejectedDataPoints, errorMessage } } : {};
  const message = ExportMetricsServiceResponse.fromObject(value);
  if (encoding === 'json') return Buffer.from(protojson.toJsonString(ExportMetricsServiceResponse, message));
  return Buffer.from(ExportMetricsServiceResponse.encode(message).finish());
}
