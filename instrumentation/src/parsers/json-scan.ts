/*
 * Allocation-free looks into raw JSON event text. They trust the providers' compact
 * serialisation ("key":"value", no spaces), which is what every supported API sends;
 * anything else simply fails the check and falls back to a full parse or is ignored.
 */

const TYPE_KEY = '"type":"';

/**
 * Index just past the opening quote of the first "type" value, or -1. The type key comes
 * first in every supported event, so the search ends within a few characters.
 */
export function typeValueStart(data: string): number {
  const at = data.indexOf(TYPE_KEY);
  return at < 0 ? -1 : at + TYPE_KEY.length;
}

/** The first "type" value, or undefined. */
export function eventType(data: string): string | undefined {
  const from = typeValueStart(data);
  if (from < 0) return undefined;
  const end = data.indexOf('"', from);
  return end < 0 ? undefined : data.slice(from, end);
}

/** True for `response.*.delta` events: every output-carrying event of Responses and Realtime. */
export function isResponseDelta(data: string): boolean {
  const from = typeValueStart(data);
  if (from < 0 || !data.startsWith('response.', from)) return false;
  const end = data.indexOf('"', from);
  return end > 0 && data.endsWith('.delta', end);
}

/** Value of a string field `"key":"value"` without parsing; undefined when absent. */
export function stringField(data: string, key: string): string | undefined {
  const needle = `"${key}":"`;
  const at = data.indexOf(needle);
  if (at < 0) return undefined;
  const from = at + needle.length;
  const end = data.indexOf('"', from);
  return end < 0 ? undefined : data.slice(from, end);
}

/** True when `"key":"` is present and followed by a non-empty string. */
export function hasNonEmptyString(data: string, key: string): boolean {
  const at = data.indexOf(`"${key}":"`);
  return at >= 0 && data.charCodeAt(at + key.length + 4) !== 0x22;
}

/** JSON.parse that returns undefined instead of throwing, and only for objects. */
export function parseObject(data: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
