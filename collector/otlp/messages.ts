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

/**
 * AnyValue's oneof is dropped from the in-memory reflection (the wire format does not
 * change: a oneof is only an accessor). protobufjs maintains a oneof by deleting the other
 * members on every assignment, and with a hundred token offsets per span that bookkeeping
 * took more than half the decode time. Readers find the member that is set with
 * Object.hasOwn instead (decoded messages own exactly the fields that were on the wire).
 */
function dropOneofAccessor(typeName: string, oneofName: string): void {
  const type = root.lookupType(typeName);
  const oneof = type.oneofs[oneofName];
  for (const field of [...oneof.fieldsArray]) {
    oneof.remove(field);
    // Out of the oneof a member would lose its presence, and the generated decoder drops a
    // default value it reads (bool_value false, int_value 0, string_value ""): the sender's
    // false must arrive as false, not as an absent attribute.
    (field as unknown as { _features: { field_presence: string } })._features.field_presence = 'EXPLICIT';
  }
  type.remove(oneof);
}
dropOneofAccessor('opentelemetry.proto.common.v1.AnyValue', 'value');

export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
export const ExportMetricsServiceRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
export const RpcStatus = root.lookupType('google.rpc.Status');

/** A message type of the trace .proto files, by its name within opentelemetry.proto (read-traces.ts walks them). */
export const otlpType = (name: string) => root.lookupType(`opentelemetry.proto.${name}`);

/** Span status codes as the trace .proto numbers them. */
export const StatusCode = root.lookupEnum('opentelemetry.proto.trace.v1.Status.StatusCode').values;
