/*
 * View state lives in the URL so that every view is a shareable link. This module is the
 * one reader and writer of those search params.
 */
import type { DashboardFilter } from '@/db/queries/filter';

export const RANGES = {
  '15m': 15 * 60_000,
  '1h': 60 * 60_000,
  '6h': 6 * 60 * 60_000,
  '24h': 24 * 60 * 60_000,
  '7d': 7 * 24 * 60 * 60_000,
} as const;

export type RangeKey = keyof typeof RANGES | 'custom';

export const DEFAULT_RANGE: RangeKey = '1h';

export type SearchParams = Record<string, string | string[] | undefined>;

export interface ViewParams {
  range: RangeKey;
  filter: DashboardFilter;
  refresh: boolean;
}

export function param(params: SearchParams, name: string): string | undefined {
  const value = params[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function parseDate(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Resolves the range against `now`; a custom range with a bad or reversed date falls back to the default. */
export function parseViewParams(params: SearchParams, now: Date = new Date()): ViewParams {
  const dimensions = { service: param(params, 'service'), model: param(params, 'model'), transport: param(params, 'transport') };
  const refresh = param(params, 'refresh') !== 'off';
  const requested = param(params, 'range');
  if (requested === 'custom') {
    const from = parseDate(param(params, 'from'));
    const to = parseDate(param(params, 'to')) ?? now;
    if (from && from < to) return { range: 'custom', filter: { from, to, ...dimensions }, refresh };
  }
  const range = requested && requested in RANGES ? (requested as keyof typeof RANGES) : (DEFAULT_RANGE as keyof typeof RANGES);
  return { range, filter: { from: new Date(now.getTime() - RANGES[range]), to: now, ...dimensions }, refresh };
}

/** The current params with some replaced; undefined or '' removes a param. */
export function withParams(current: URLSearchParams | SearchParams, changes: Record<string, string | undefined>): string {
  const next = new URLSearchParams();
  if (current instanceof URLSearchParams) current.forEach((value, key) => next.set(key, value));
  else for (const key of Object.keys(current)) {
    const value = param(current, key);
    if (value !== undefined) next.set(key, value);
  }
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === '') next.delete(key);
    else next.set(key, value);
  }
  const query = next.toString();
  return query ? `?${query}` : '';
}
