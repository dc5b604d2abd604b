/*
 * Number formatting with units, shared by server-rendered tiles and client charts so a
 * figure reads the same everywhere.
 */

export type Unit = 'ms' | 'responses/s' | 'tokens/s' | 'bytes' | 'ratio' | 'responses' | 'count';

function significant(value: number): string {
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

export function formatMs(ms: number): string {
  if (Math.abs(ms) >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${significant(ms)} ms`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/** A value with its unit; '—' for a figure that could not be computed (no data). */
export function formatValue(value: number | null | undefined, unit: Unit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  switch (unit) {
    case 'ms':
      return formatMs(value);
    case 'bytes':
      return formatBytes(value);
    case 'ratio':
      return `${significant(value * 100)} %`;
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    default:
      return `${significant(value)} ${unit}`;
  }
}

/** Short axis tick label: the number alone; the unit is on the axis title. */
export function formatTick(value: number, unit: Unit): string {
  if (unit === 'ratio') return `${significant(value * 100)}`;
  return significant(value);
}

export function unitLabel(unit: Unit): string {
  return unit === 'ratio' ? '%' : unit === 'count' ? '' : unit;
}

const TRANSPORT_NAMES: Record<string, string> = { websocket: 'WebSocket', sse: 'SSE', http: 'HTTP' };

export function transportName(transport: string): string {
  return TRANSPORT_NAMES[transport] ?? (transport || 'unknown');
}

/**
 * "WebSocket TTFT p50 is 38 % lower than SSE". Rounds to whole percent, and calls
 * differences under half a percent "the same".
 */
export function differenceSentence(candidate: string, baseline: string, label: string, percent: number | null): string {
  const subject = `${transportName(candidate)} ${label}`;
  if (percent === null) return `${subject} cannot be compared with ${transportName(baseline)} (no data on one side).`;
  const rounded = Math.round(Math.abs(percent));
  if (rounded === 0) return `${subject} is the same as ${transportName(baseline)}.`;
  return `${subject} is ${rounded} % ${percent < 0 ? 'lower' : 'higher'} than ${transportName(baseline)}.`;
}
