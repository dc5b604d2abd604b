import { Suspense, type ReactNode } from 'react';
import { logout } from '../login/actions';
import { Brand } from '../_components/brand';
import { Nav } from '../_components/nav';

export default function DashboardLayout({ children }: { children: ReactNode }) {
  return (
    <div className="shell">
      <header className="topbar">
        <Brand />
        <Suspense fallback={<nav className="nav" />}>
          <Nav />
        </Suspense>
        <form action={logout}>
          <button type="submit" className="link-button">
            Sign out
          </button>
        </form>
      </header>
      <main className="content">{children}</main>
    </div>
  );
}
