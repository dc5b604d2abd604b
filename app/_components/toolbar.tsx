'use client';

import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { useEffect, useState, useTransition } from 'react';
import type { FilterOptions } from '@/db/queries/filter-options';
import { transportName } from '@/lib/ui/format';
import { RANGES, withParams, type RangeKey } from '@/lib/ui/view-params';

export const REFRESH_INTERVAL_MS = 5000;

interface ToolbarProps {
  range: RangeKey;
  /** Resolved range, epoch ms, shown in the custom inputs. */
  from: number;
  to: number;
  refresh: boolean;
  options: FilterOptions;
  /** Dimensions this view filters by; e.g. compare shows every transport. */
  dimensions: readonly ('service' | 'model' | 'transport')[];
}

/** `datetime-local` wants local time without a zone. */
function toLocalInput(ms: number): string {
  const date = new Date(ms);
  return new Date(ms - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

const LABELS = { service: 'Service', model: 'Model', transport: 'Transport' } as const;
const OPTION_KEYS = { service: 'services', model: 'models', transport: 'transports' } as const;

export function Toolbar({ range, from, to, refresh, options, dimensions }: ToolbarProps) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [pending, startTransition] = useTransition();
  const [customFrom, setCustomFrom] = useState(toLocalInput(from));
  const [customTo, setCustomTo] = useState(toLocalInput(to));
  const [customOpen, setCustomOpen] = useState(range === 'custom');

  const navigate = (changes: Record<string, string | undefined>) =>
    startTransition(() => router.push(`${pathname}${withParams(searchParams, { page: undefined, ...changes })}`));

  useEffect(() => {
    if (!refresh) return;
    const timer = setInterval(() => router.refresh(), REFRESH_INTERVAL_MS);
    return () => clearInterval(timer);
  }, [refresh, router]);

  return (
    <div className="toolbar" aria-busy={pending}>
      <div className="segmented" role="group" aria-label="Time range">
        {Object.keys(RANGES).map((key) => (
          <button
            key={key}
            type="button"
            className={range === key ? 'selected' : undefined}
            onClick={() => {
              setCustomOpen(false);
              navigate({ range: key, from: undefined, to: undefined });
            }}
          >
            {key}
          </button>
        ))}
        <button type="button" className={range === 'custom' ? 'selected' : undefined} onClick={() => setCustomOpen(!customOpen)}>
          custom
        </button>
      </div>
      {customOpen ? (
        <form
          className="custom-range"
          onSubmit={(event) => {
            event.preventDefault();
            navigate({ range: 'custom', from: new Date(customFrom).toISOString(), to: new Date(customTo).toISOString() });
          }}
        >
          <input type="datetime-local" aria-label="From" value={customFrom} onChange={(e) => setCustomFrom(e.target.value)} required />
          <span className="muted">to</span>
          <input type="datetime-local" aria-label="To" value={customTo} onChange={(e) => setCustomTo(e.target.value)} required />
          <button type="submit">Apply</button>
        </form>
      ) : null}
      {dimensions.map((dimension) => {
        const selected = searchParams.get(dimension) ?? '';
        const values = options[OPTION_KEYS[dimension]];
        // Keep a selected value listed even when the new range holds none of it.
        const listed = selected && !values.includes(selected) ? [selected, ...values] : values;
        return (
          <label key={dimension} className="select">
            <span>{LABELS[dimension]}</span>
            <select value={selected} onChange={(e) => navigate({ [dimension]: e.target.value })} aria-label={LABELS[dimension]}>
              <option value="">All</option>
              {listed.map((value) => (
                <option key={value} value={value}>
                  {dimension === 'transport' ? transportName(value) : value}
                </option>
              ))}
            </select>
          </label>
        );
      })}
      <label className="toggle">
        <input type="checkbox" checked={refresh} onChange={(e) => navigate({ refresh: e.target.checked ? undefined : 'off' })} />
        Auto-refresh {REFRESH_INTERVAL_MS / 1000} s
      </label>
    </div>
  );
}
