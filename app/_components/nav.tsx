'use client';

import Link from 'next/link';
import { usePathname, useSearchParams } from 'next/navigation';

const LINKS = [
  { href: '/', label: 'Overview' },
  { href: '/compare', label: 'Compare' },
  { href: '/explorer', label: 'Explorer' },
  { href: '/connections', label: 'Connections' },
  { href: '/alerts', label: 'Alerts' },
  { href: '/keys', label: 'API keys' },
];

/** View params that mean the same on every view, carried along when switching views. */
const SHARED = ['range', 'from', 'to', 'service', 'model', 'transport', 'refresh'];

export function Nav() {
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const shared = new URLSearchParams();
  for (const key of SHARED) {
    const value = searchParams.get(key);
    if (value) shared.set(key, value);
  }
  const query = shared.toString();
  return (
    <nav className="nav">
      {LINKS.map(({ href, label }) => {
        const active = href === '/' ? pathname === '/' : pathname.startsWith(href);
        return (
          <Link key={href} href={query && href !== '/alerts' ? `${href}?${query}` : href} className={active ? 'active' : undefined}>
            {label}
          </Link>
        );
      })}
    </nav>
  );
}
