'use client';

import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { useState } from 'react';
import { withParams } from '@/lib/ui/view-params';

/** Search by response id or trace id, and the status filter: both kept in the URL. */
export function ExplorerControls() {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const [search, setSearch] = useState(searchParams.get('q') ?? '');
  const navigate = (changes: Record<string, string | undefined>) => router.push(`${pathname}${withParams(searchParams, { page: undefined, ...changes })}`);
  return (
    <form
      className="explorer-controls"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        navigate({ q: search.trim() });
      }}
    >
      <input
        type="search"
        placeholder="Response id or trace id (searches all time)"
        value={search}
        onChange={(e) => setSearch(e.target.value)}
        aria-label="Search responses"
      />
      <button type="submit">Search</button>
      <label className="select">
        <span>Status</span>
        <select value={searchParams.get('status') ?? ''} onChange={(e) => navigate({ status: e.target.value })} aria-label="Status">
          <option value="">All</option>
          <option value="ok">ok</option>
          <option value="error">error</option>
        </select>
      </label>
    </form>
  );
}
