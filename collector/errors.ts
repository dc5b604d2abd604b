/*
 * The two ways input fails. A RequestError fails the whole request (nothing of it is
 * stored, the client is told why with an HTTP status); an InvalidSpanError drops one span
 * and the rest of the request goes on, reported back as an OTLP partial success.
 */

export class RequestError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 405 | 413 | 415,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export class InvalidSpanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSpanError';
  }
}

/** A span that was dropped, and why, for the partial-success message. */
export interface SpanRejection {
  /** Where the span was: its position in the request, or trace/span id once those are known good. */
  span: string;
  reason: string;
}

/** The database could not take the write now; the same request may succeed later (503). */
export class WriteUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WriteUnavailableError';
  }
}

/** The write queue holds its byte limit; the same request may succeed shortly (429). */
export class QueueFullError extends Error {
  constructor(queuedBytes: number, maxBytes: number) {
    super(`the write queue is full (${queuedBytes} of ${maxBytes} bytes waiting for the database), retry later`);
    this.name = 'QueueFullError';
  }
}

/** The thread decoding the request stopped before answering; the same request may succeed when sent again (503). */
export class PrepareUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrepareUnavailableError';
  }
}
