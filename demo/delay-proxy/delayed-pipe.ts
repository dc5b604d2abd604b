import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface DelayedPipeOptions {
  /** One-way latency added to every chunk. */
  delayMs: number;
  /** No chunk is released before this `performance.now()` time plus `delayMs`. */
  holdUntil?: number;
}

/**
 * Forwards `source` to `destination`, each chunk (and the end of stream) released `delayMs`
 * after it arrived. Release times never decrease, so one FIFO queue drained by a single
 * timer keeps the byte order — a timer per chunk could fire out of order.
 */
export function pipeWithDelay(source: Socket, destination: Socket, { delayMs, holdUntil = 0 }: DelayedPipeOptions): void {
  /** `chunk: null` stands for the end of the stream, so a FIN is delayed like data. */
  const queue: { releaseAt: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | null = null;

  const scheduleRelease = () => {
    if (timer !== null || queue.length === 0) return;
    // Timers run on whole milliseconds: round up so a wake-up is never early.
    timer = setTimeout(release, Math.max(0, Math.ceil(queue[0].releaseAt - performance.now())));
  };
  const release = () => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].releaseAt <= now && !destination.destroyed) {
      const { chunk } = queue.shift()!;
      if (chunk === null) destination.end();
      else if (!destination.write(chunk)) source.pause();
    }
    scheduleRelease();
  };
  const enqueue = (chunk: Buffer | null) => {
    queue.push({ releaseAt: Math.max(performance.now(), holdUntil) + delayMs, chunk });
    scheduleRelease();
  };

  source.on('data', (chunk: Buffer) => enqueue(chunk));
  source.on('end', () => enqueue(null));
  destination.on('drain', () => source.resume());
  destination.on('close', () => {
    if (timer !== null) clearTimeout(timer);
    queue.length = 0;
  });
}
