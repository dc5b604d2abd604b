import { Suspense, type ReactNode } from 'react';
import { logout } from '../login/actions';
import { Nav } from '../_components/nav';

export default function DashboardLayout({ children }: { children: ReactNode }) {
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">
          <span className="brand-mark" aria-hidden />
          Streamscope
        </span>
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
