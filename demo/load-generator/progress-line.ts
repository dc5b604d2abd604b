import type { IntervalFigures } from './latency-stats.ts';

export interface LaneProgress {
  transport: string;
  interval: IntervalFigures;
  totalErrors: number;
  backlog: number;
}

/** One line of live progress: the last interval's rate and median TTFT, errors so far. */
export function formatProgress(elapsedMs: number, intervalMs: number, lanes: LaneProgress[]): string {
  const parts = lanes.map(({ transport, interval, totalErrors, backlog }) => {
    const rate = (interval.count / (intervalMs / 1000)).toFixed(1);
    const ttft = interval.ttftP50Ms === null ? '–' : `${interval.ttftP50Ms.toFixed(0)} ms`;
    return `${transport} ${rate} resp/s, TTFT p50 ${ttft}, errors ${totalErrors}${backlog > 0 ? `, backlog ${backlog}` : ''}`;
  });
  return `[${(elapsedMs / 1000).toFixed(0).padStart(4)} s] ${parts.join(' | ')}`;
}

/**
 * Writes a progress line every `intervalMs`. On a terminal the line is rewritten in place;
 * elsewhere (CI logs, pipes) each update is its own line.
 */
export function startProgress(render: () => string, intervalMs: number, out: NodeJS.WriteStream = process.stderr): () => void {
  const inPlace = out.isTTY === true;
  const timer = setInterval(() => out.write(inPlace ? `\r\x1b[K${render()}` : `${render()}\n`), intervalMs);
  return () => {
    clearInterval(timer);
    if (inPlace) out.write('\n');
  };
}
