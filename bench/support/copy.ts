/*
 * COPY ... FROM STDIN through postgres-js: the fastest way rows get into Postgres, used as
 * the ceiling the write path is measured against and to load the query benchmark.
 *
 * Rows are serialised with the write path's own column list (db/ingest.ts), so COPY and
 * the collector store the same values in the same columns.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type postgres from 'postgres';
import { RESPONSE_COLUMNS, type Column } from '../../db/ingest';
import type { NewResponseRow } from '../../db/schema';

/** COPY text format escapes: backslash, and the row and column separators. */
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const escapeText = (text: string) => text.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]);

function field<Row>(column: Column<Row>, row: Row): string {
  const value = column.value(row);
  if (value == null || (typeof value === 'number' && !Number.isFinite(value))) return '\\N';
  // The write path sends timestamps as epoch milliseconds for to_timestamp(); COPY needs a literal.
  if (column.cast === 'timestamptz') return new Date(value as number).toISOString();
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return typeof value === 'string' ? escapeText(value) : String(value);
}

/** Rows in COPY text format: tab-separated fields, one line per row. */
export function copyText<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  let text = '';
  for (const row of rows) text += `${columns.map((column) => field(column, row)).join('\t')}\n`;
  return text;
}

export const responsesCopyText = (rows: readonly NewResponseRow[]) => copyText(RESPONSE_COLUMNS, rows);

/**
 * Streams `chunks` into one `COPY table (columns) FROM STDIN` (one transaction), honouring
 * backpressure; resolves when Postgres has committed them.
 */
export async function copyInto<Row>(
  sql: postgres.Sql,
  table: string,
  columns: readonly Column<Row>[],
  chunks: Iterable<string | Buffer> | AsyncIterable<string | Buffer>,
): Promise<void> {
  const names = columns.map((c) => `"${c.name}"`).join(', ');
  const stream: Writable = await sql.unsafe(`copy "${table}" (${names}) from stdin`).writable();
  const finished = once(stream, 'finish');
  for await (const chunk of chunks) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  await finished;
}
