/*
 * Response bodies, in the encoding the request used, as OTLP/HTTP requires: an
 * ExportTraceServiceResponse on success (with partial_success when spans were dropped),
 * a google.rpc.Status on failure.
 */
import protojson from 'protobufjs/ext/protojson.js';
import type { Type } from 'protobufjs';
import type { OtlpEncoding } from './decode';
import { ExportTraceServiceResponse, RpcStatus } from './messages';

export const CONTENT_TYPE: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** An empty partial success is full success, so full success is simply the empty message. */
export function encodeExportTraceResponse(encoding: OtlpEncoding, rejectedSpans = 0, errorMessage = ''): Buffer {
  const response = rejectedSpans > 0 || errorMessage ? { partialSuccess: { rejectedSpans, errorMessage } } : {};
  return encode(ExportTraceServiceResponse, response, encoding);
}

/** `code` is a google.rpc.Code (3 INVALID_ARGUMENT, 14 UNAVAILABLE, ...). */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string): Buffer {
  return encode(RpcStatus, { code, message }, encoding);
}

function encode(type: Type, value: Record<string, unknown>, encoding: OtlpEncoding): Buffer {
  const message = type.fromObject(value);
  if (encoding === 'json') return Buffer.from(protojson.toJsonString(type, message));
  return Buffer.from(type.encode(message).finish());
}
