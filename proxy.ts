/*
 * Every dashboard page and API route requires the admin session; unauthenticated pages go
 * to /login (remembering where the user was going), API routes get 401. The OTLP ingest is
 * a separate server and never passes through here.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { currentSessionSecret, SESSION_COOKIE, verifySessionToken } from './lib/auth/session';

export async function proxy(request: NextRequest) {
  const secret = await currentSessionSecret();
  if (secret && verifySessionToken(secret, request.cookies.get(SESSION_COOKIE)?.value)) return NextResponse.next();
  if (request.nextUrl.pathname.startsWith('/api/')) {
    return NextResponse.json({ error: 'authentication required' }, { status: 401 });
  }
  const login = new URL('/login', request.url);
  const target = request.nextUrl.pathname + request.nextUrl.search;
  if (target !== '/') login.searchParams.set('next', target);
  return NextResponse.redirect(login);
}

export const config = {
  // Everything but the login page itself and static assets.
  matcher: ['/((?!login|_next/static|_next/image|favicon\\.ico|.*\\.(?:svg|png|ico|css|js|txt)$).*)'],
};
