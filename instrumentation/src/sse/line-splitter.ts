/** How much of an oversized event is kept: enough to classify it by its type. */
const TRUNCATED_HEAD_CHARS = 4096;

export type SseEventHandler = (data: string, eventName: string | undefined) => void;

/**
 * Incremental `text/event-stream` decoder: bytes in, (data, event name) out, one call per
 * event as soon as its terminating blank line arrives. Memory is bounded by
 * `maxEventChars`: a longer line or event is cut to its head and the rest skipped.
 */
export class SseLineSplitter {
  private readonly decoder = new TextDecoder();
  private partial = '';
  private skippingLine = false;
  private data: string | undefined;
  private eventName: string | undefined;

  constructor(
    private readonly maxEventChars: number,
    private readonly onEvent: SseEventHandler,
  ) {}

  push(chunk: Uint8Array): void {
    let text = this.decoder.decode(chunk, { stream: true });
    if (this.skippingLine) {
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      this.skippingLine = false;
      text = text.slice(nl + 1);
    }
    text = this.partial + text;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
      start = nl + 1;
    }
    this.partial = start === 0 ? text : text.slice(start);
    if (this.partial.length > this.maxEventChars) {
      this.line(this.partial.slice(0, Math.min(TRUNCATED_HEAD_CHARS, this.maxEventChars)));
      this.partial = '';
      this.skippingLine = true;
    }
  }

  /** Delivers an event left without its closing blank line when the body ends. */
  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
    this.line('');
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data !== undefined) this.onEvent(this.data, this.eventName);
      this.data = undefined;
      this.eventName = undefined;
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) return;
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    if (field === 'data') {
      if (this.data === undefined) this.data = value;
      else if (this.data.length + value.length < this.maxEventChars) this.data += '\n' + value;
    } else if (field === 'event') {
      this.eventName = value;
    }
  }
}
