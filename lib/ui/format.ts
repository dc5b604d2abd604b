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

/** Milliseconds in the largest unit that keeps a whole number ahead of the point: a connection can live for hours. */
function duration(ms: number): { number: string; unit: string } {
  const abs = Math.abs(ms);
  if (abs >= 3_600_000) return { number: (ms / 3_600_000).toFixed(1), unit: 'h' };
  if (abs >= 60_000) return { number: (ms / 60_000).toFixed(1), unit: 'min' };
  if (abs >= 10_000) return { number: (ms / 1000).toFixed(1), unit: 's' };
  return { number: significant(ms), unit: 'ms' };
}

/** A figure split into number and unit, so a tile can set the unit smaller. */
export function formatParts(value: number | null | undefined, unit: Unit): { number: string; unit: string } {
  if (value === null || value === undefined || !Number.isFinite(value)) return { number: '—', unit: '' };
  switch (unit) {
    case 'ms':
      return duration(value);
    case 'bytes':
      if (value >= 1024 * 1024) return { number: (value / 1024 / 1024).toFixed(1), unit: 'MiB' };
      if (value >= 1024) return { number: (value / 1024).toFixed(1), unit: 'KiB' };
      return { number: String(Math.round(value)), unit: 'B' };
    case 'ratio':
      return { number: significant(value * 100), unit: '%' };
    case 'count':
      return { number: Math.round(value).toLocaleString('en-US'), unit: '' };
    default:
      return { number: significant(value), unit };
  }
}

/** A value with its unit; '—' for a figure that could not be computed (no data). */
export function formatValue(value: number | null | undefined, unit: Unit): string {
  const parts = formatParts(value, unit);
  return parts.unit ? `${parts.number} ${parts.unit}` : parts.number;
}

const tickFormat = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });

/** Short axis tick label: the number alone, no trailing zeros; the unit is on the axis title. */
export function formatTick(value: number, unit: Unit): string {
  return tickFormat.format(unit === 'ratio' ? value * 100 : value);
}

export function unitLabel(unit: Unit): string {
  return unit === 'ratio' ? '%' : unit === 'count' ? '' : unit;
}

const TRANSPORT_NAMES: Record<string, string> = { websocket: 'WebSocket', sse: 'SSE', http: 'HTTP' };

export function transportName(transport: string): string {
  return TRANSPORT_NAMES[transport] ?? (transport || 'unknown');
}

/**
 * The style of a response's outcome: `ok` (completed), `error` (failed, connection lost,
 * timed out: status error), `ended` for the rest (aborted by the application, stopped
 * early by the provider), which are neither.
 */
export function outcomeClass(row: { status: string; outcome: string | null }): 'ok' | 'error' | 'ended' {
  if (row.status === 'error') return 'error';
  return row.outcome === null || row.outcome === 'completed' ? 'ok' : 'ended';
}

/**
 * "WebSocket TTFT p50 is 38 % lower than SSE". Rounds to whole percent, calls differences
 * under half a percent "the same", says of those the samples cannot tell from noise
 * (`significant` false) that they are not clear, and calls the rest the comparison judged
 * level (`improved` null) "about the same".
 */
export function differenceSentence(
  candidate: string,
  baseline: string,
  label: string,
  { percent, improved, significant }: { percent: number | null; improved: boolean | null; significant: boolean | null },
): string {
  const subject = `${transportName(candidate)} ${label}`;
  if (percent === null) return `${subject} cannot be compared with ${transportName(baseline)} (no data on one side).`;
  const rounded = Math.round(Math.abs(percent));
  if (rounded === 0) return `${subject} is the same as ${transportName(baseline)}.`;
  const direction = `${rounded} % ${percent < 0 ? 'lower' : 'higher'}`;
  if (significant === false) return `${subject} is ${direction} than ${transportName(baseline)}, not a clear difference with these samples.`;
  if (improved === null) return `${subject} is about the same as ${transportName(baseline)} (${direction}).`;
  return `${subject} is ${direction} than ${transportName(baseline)}.`;
}

/** "95 % interval: 121 ms to 129 ms", a percentile's confidence interval; an open end is said so. */
export function intervalText([low, high]: readonly [number, number], unit: Unit): string {
  const [from, to] = [Number.isFinite(low), Number.isFinite(high)];
  if (from && to) return `95 % interval: ${formatValue(low, unit)} to ${formatValue(high, unit)}`;
  if (from) return `95 % interval: ${formatValue(low, unit)} or more (too few responses to bound it above)`;
  if (to) return `95 % interval: up to ${formatValue(high, unit)} (too few responses to bound it below)`;
  return '95 % interval: unbounded (too few responses)';
}

/**
 * An attribute's value as the response page lists it. Fractions keep 12 significant digits:
 * a sum of float milliseconds such as 132.92724900000003 shows as 132.927249, its noise past
 * the 15th digit dropped, and nothing the measurement holds is lost.
 */
export function attributeText(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return Number.isInteger(value) || !Number.isFinite(value) ? String(value) : String(Number(value.toPrecision(12)));
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
