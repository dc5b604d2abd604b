/** How much of an oversized line is kept: enough to classify its event by its type. */
const TRUNCATED_HEAD_BYTES = 4096;
/** Starting size of the buffer that holds a line cut by a chunk boundary; grown on demand. */
const INITIAL_CARRY_BYTES = 1024;
const NO_BYTES = Buffer.alloc(0);

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;

export type SseEventHandler = (data: string, eventName: string | undefined) => void;

/** True when the line at `start` (ending before `end`) is field `name` (ASCII bytes): `name` alone or `name:`. */
function isField(bytes: Uint8Array, start: number, end: number, name: Uint8Array): boolean {
  const length = name.length;
  if (end - start < length || (end - start > length && bytes[start + length] !== COLON)) return false;
  for (let i = 0; i < length; i++) if (bytes[start + i] !== name[i]) return false;
  return true;
}

/**
 * Buffer's indexOf searches natively (memchr): about three times faster than Uint8Array's
 * element loop on a 1 KiB chunk, and a chunk is searched once per line.
 */
function indexOfLf(bytes: Buffer, from: number): number {
  return bytes.indexOf(LF, from);
}

const DATA = new TextEncoder().encode('data');
const EVENT = new TextEncoder().encode('event');

/** The same bytes as a Buffer, without a copy, for Buffer's native UTF-8 decoding of a range. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Incremental `text/event-stream` decoder: bytes in, (data, event name) out, one call per
 * event as soon as its terminating blank line arrives. Lines are found in the bytes, and
 * only the values of `data` and `event` fields are decoded, each once: the chunk itself is
 * never turned into a string. A line cut by a chunk boundary waits in a reused buffer,
 * allocated the first time one is. Memory is bounded by `maxEventBytes`: a longer line or
 * event is cut to its head and the rest skipped.
 *
 * Values are decoded by Buffer#toString (UTF-8, a byte-order mark kept, so the stream's is
 * stripped by hand, once): a TextDecoder per stream costs more to build and to call.
 */
export class SseLineSplitter {
  private carry: Buffer = NO_BYTES;
  private carryLength = 0;
  private firstLine = true;
  private skippingLine = false;
  private data: string | undefined;
  private eventName: string | undefined;

  constructor(
    private readonly maxEventBytes: number,
    private readonly onEvent: SseEventHandler,
  ) {}

  push(bytes: Uint8Array): void {
    const chunk = asBuffer(bytes);
    let start = 0;
    let nl = indexOfLf(chunk, 0);
    if (this.skippingLine) {
      if (nl < 0) return;
      this.skippingLine = false;
      start = nl + 1;
      nl = indexOfLf(chunk, start);
    } else if (this.carryLength > 0 && nl >= 0) {
      this.append(chunk, 0, nl);
      this.line(this.carry, 0, this.carryLength);
      this.carryLength = 0;
      start = nl + 1;
      nl = indexOfLf(chunk, start);
    }
    while (nl >= 0) {
      this.line(chunk, start, nl);
      start = nl + 1;
      // A chunk usually ends with a line, and an event's last line with the blank line that
      // ends it: neither needs a search.
      if (start >= chunk.length) nl = -1;
      else nl = chunk[start] === LF ? start : indexOfLf(chunk, start);
    }
    if (start < chunk.length) this.append(chunk, start, chunk.length);
    if (this.carryLength > this.maxEventBytes) {
      this.line(this.carry, 0, Math.min(TRUNCATED_HEAD_BYTES, this.maxEventBytes));
      // Released rather than kept at the oversized line's size for the rest of the stream.
      this.carry = NO_BYTES;
      this.carryLength = 0;
      this.skippingLine = true;
    }
  }

  /** Delivers an event left without its closing blank line when the body ends. */
  end(): void {
    if (this.carryLength > 0) this.line(this.carry, 0, this.carryLength);
    this.carryLength = 0;
    this.line(this.carry, 0, 0);
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const length = this.carryLength + to - from;
    if (length > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.max(length, this.carry.length * 2, INITIAL_CARRY_BYTES));
      this.carry.copy(grown, 0, 0, this.carryLength);
      this.carry = grown;
    }
    chunk.copy(this.carry, this.carryLength, from, to);
    this.carryLength = length;
  }

  /** One line, `bytes[start, end)`, its `\n` excluded. */
  private line(bytes: Buffer, start: number, end: number): void {
    if (end > start && bytes[end - 1] === CR) end--;
    if (this.firstLine) {
      this.firstLine = false;
      if (end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf) start += 3;
    }
    if (end === start) {
      if (this.data !== undefined) this.onEvent(this.data, this.eventName);
      this.data = undefined;
      this.eventName = undefined;
      return;
    }
    if (isField(bytes, start, end, DATA)) {
      const value = this.value(bytes, start + DATA.length, end);
      if (this.data === undefined) this.data = value;
      else if (this.data.length + value.length < this.maxEventBytes) this.data += '\n' + value;
    } else if (isField(bytes, start, end, EVENT)) {
      this.eventName = this.value(bytes, start + EVENT.length, end);
    }
  }

  /** The value after a field name at `colon` (or the line's end): one leading space dropped. */
  private value(bytes: Buffer, colon: number, end: number): string {
    const from = bytes[colon + 1] === SPACE ? colon + 2 : colon + 1;
    return from >= end ? '' : bytes.toString('utf8', from, end);
  }
}
