'use server';

import { cookies, headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { ensureAdminCredential, verifyPassword } from '@/lib/auth/credential';
import { loginRateLimited, loginSucceeded } from '@/lib/auth/rate-limit';
import { createSessionToken, SESSION_COOKIE, SESSION_TTL_MS } from '@/lib/auth/session';

export interface LoginState {
  error?: string;
}

/** Only same-site paths: `//host` and `/\host` would send a signed-in user elsewhere. */
function safeNext(next: FormDataEntryValue | null): string {
  const target = typeof next === 'string' ? next : '';
  return target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\') ? target : '/';
}

export async function login(_previous: LoginState, form: FormData): Promise<LoginState> {
  // Normally the start command created the credential and printed a generated password;
  // when Next runs alone, the first login attempt creates it and the server log shows it.
  const { credential, generatedPassword, file } = await ensureAdminCredential();
  if (generatedPassword) console.log(`streamscope: generated admin password ${generatedPassword} (hash stored in ${file})`);
  const requestHeaders = await headers();
  // Counted before the scrypt check, so refused attempts cost the server nothing.
  const limited = loginRateLimited(requestHeaders);
  if (limited) return { error: limited };
  const password = form.get('password');
  if (typeof password !== 'string' || !(await verifyPassword(credential, password))) {
    return { error: 'Wrong password.' };
  }
  loginSucceeded(requestHeaders);
  const secure = requestHeaders.get('x-forwarded-proto') === 'https';
  (await cookies()).set(SESSION_COOKIE, createSessionToken(credential), {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    maxAge: SESSION_TTL_MS / 1000,
  });
  redirect(safeNext(form.get('next')));
}

export async function logout(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
  redirect('/login');
}
