/*
 * One export request's spans as a batch: prepared (decoded, validated, translated into
 * rows) without touching the database, then stored in one transaction. Keeping the two
 * steps apart lets the receiver decide on the whole request (e.g. reject it) before any
 * row is written.
 */
import type { Store } from '../db/client';
import { writeBatch, type SpanBatch, type WriteResult } from '../db/ingest';
import { RequestError, WriteUnavailableError, type SpanRejection } from './errors';
import { decodeTraceRequest, type OtlpEncoding } from './otlp/decode';
import { translateSpans, type Translation } from './translate';

export interface PreparedBatch extends Translation {
  /** Spans in the request, valid or not. */
  received: number;
}

/** SQLSTATE class 22: the database refused a value; retrying the same batch cannot help. */
const DATA_EXCEPTION_CLASS = '22';
/** At most this many rejections are spelled out in a message; the count covers the rest. */
const REJECTIONS_SHOWN = 5;

export function prepareBatch(body: Uint8Array, encoding: OtlpEncoding): PreparedBatch {
  const decoded = decodeTraceRequest(body, encoding);
  const translation = translateSpans(decoded.spans);
  return {
    ...translation,
    rejected: [...decoded.rejected, ...translation.rejected],
    received: decoded.spans.length + decoded.rejected.length,
  };
}

/**
 * Resolves once the rows are committed. A value the database refuses is the sender's
 * error (RequestError 400); anything else is the database's (WriteUnavailableError).
 */
export async function storeBatch(store: Store, batch: SpanBatch): Promise<WriteResult> {
  if (batch.responses.length + batch.connections.length === 0) return { responsesInserted: 0, connectionsInserted: 0 };
  try {
    return await writeBatch(store, batch);
  } catch (error) {
    const code = sqlStateOf(error);
    if (code?.startsWith(DATA_EXCEPTION_CLASS)) {
      throw new RequestError(400, `the database refused the batch (SQLSTATE ${code}): ${rootMessage(error)}`);
    }
    throw new WriteUnavailableError(`the database could not store the batch, retry later: ${rootMessage(error)}`, { cause: error });
  }
}

export function describeRejections({ rejected, received }: { rejected: SpanRejection[]; received: number }): string {
  const shown = rejected.slice(0, REJECTIONS_SHOWN).map((r) => `${r.span}: ${r.reason}`);
  const more = rejected.length > REJECTIONS_SHOWN ? `; and ${rejected.length - REJECTIONS_SHOWN} more` : '';
  return `${rejected.length} of ${received} spans rejected: ${shown.join('; ')}${more}`;
}

/** Drivers and Drizzle wrap errors differently; the SQLSTATE is somewhere on the cause chain. */
function sqlStateOf(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function rootMessage(error: unknown): string {
  let e = error;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
