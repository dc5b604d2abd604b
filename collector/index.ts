/*
 * The Streamscope collector: an OTLP/HTTP receiver that turns streamed-response and
 * connection spans (ours, or any OpenTelemetry GenAI instrumentation's) into rows.
 *
 *   const collector = await startCollector({ store });   // POST http://127.0.0.1:4318/v1/traces
 */
export {
  DEFAULT_HOST,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  HEALTH_PATH,
  TRACES_PATH,
  startCollector,
  type Collector,
  type CollectorOptions,
  type CollectorStats,
} from './server';
export { decodeTraceRequest, type DecodedSpan, type DecodedTraces, type OtlpEncoding } from './otlp/decode';
export { translateSpans, type Translation } from './translate';
export { prepareBatch, storeBatch, type PreparedBatch } from './batch';
