import type { Metadata } from 'next';
import { param, type SearchParams } from '@/lib/ui/view-params';
import { Brand } from '../_components/brand';
import { LoginForm } from './login-form';

export const metadata: Metadata = { title: 'Sign in · Streamscope' };

export default async function LoginPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const next = param(await searchParams, 'next') ?? '/';
  return (
    <main className="login">
      <div className="login-card">
        <Brand as="h1" />
        <p className="muted">
          Sign in with the admin password: <code>STREAMSCOPE_ADMIN_PASSWORD</code>, or the one the start command printed at first start.
        </p>
        <LoginForm next={next} />
      </div>
    </main>
  );
}
