/*
 * The OTLP message types, loaded at startup from the .proto files in ./proto (copied from
 * opentelemetry-proto with their field numbers untouched). Reflection instead of generated
 * code keeps the .proto files the single definition; protobufjs compiles a decoder per type
 * on first use, so the hot path is not interpreted.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_DIR = fileURLToPath(new URL('./proto', import.meta.url));

const PROTO_FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'google/rpc/status.proto',
];

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Imports name paths relative to the proto root, as protoc's -I does; google/protobuf/*
  // are bundled with protobufjs and resolve without a file.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : path.join(PROTO_DIR, target));
  root.loadSync(PROTO_FILES, { keepCase: false }).resolveAll();
  return root;
}

const root = loadRoot();

export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
export const ExportMetricsServiceRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
export const RpcStatus = root.lookupType('google.rpc.Status');

/** Span status codes as the trace .proto numbers them. */
export const StatusCode = root.lookupEnum('opentelemetry.proto.trace.v1.Status.StatusCode').values;
