/*
 * What the alerts route handlers share: the API bound to the process-wide store, JSON in
 * and out, and the same-origin check that stands in for a CSRF token on mutations.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { createAlertsApi, type AlertsApi, type ApiResponse } from '@/alerts';
import { sharedStore } from '@/db/client';

export type RuleRouteContext = { params: Promise<{ id: string }> };

export async function alertsApi(): Promise<AlertsApi> {
  return createAlertsApi(await sharedStore());
}

export function respond({ status, body }: ApiResponse): NextResponse {
  // A 204 must not carry a body, not even "null".
  return status === 204 ? new NextResponse(null, { status }) : NextResponse.json(body, { status });
}

/**
 * SameSite=Lax keeps the session cookie off cross-site POSTs, but a site ignores ports and
 * subdomains: a page on another port of this host is same-site and its requests carry the
 * cookie. Browsers name the requesting page in Origin on every POST, PATCH and DELETE, so
 * any other host is refused. Requests without Origin come from programs (curl, scripts)
 * that hold the cookie themselves, not from a page acting on the user's behalf.
 */
function foreignOrigin(request: NextRequest): NextResponse | null {
  const origin = request.headers.get('origin');
  if (origin === null) return null;
  const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  let originHost: string | null;
  try {
    originHost = new URL(origin).host;
  } catch {
    // "null" (sandboxed frames, some redirects) is no origin at all.
    originHost = null;
  }
  return originHost !== null && originHost === host ? null : NextResponse.json({ error: `cross-origin request refused (Origin ${origin})` }, { status: 403 });
}

/** Runs a mutation after the origin check. */
export async function mutation(request: NextRequest, run: (api: AlertsApi) => Promise<ApiResponse>): Promise<NextResponse> {
  return foreignOrigin(request) ?? respond(await run(await alertsApi()));
}

/** Runs a mutation that takes the request's JSON body; a body that is not JSON is a 400 saying why. */
export function mutationWithBody(
  request: NextRequest,
  run: (api: AlertsApi, body: unknown) => Promise<ApiResponse>,
): Promise<NextResponse> {
  return mutation(request, async (api) => {
    let body: unknown;
    try {
      body = await request.json();
    } catch (error) {
      const message = `the request body is not valid JSON: ${(error as Error).message}`;
      return { status: 400, body: { error: 'invalid JSON', errors: [{ field: '', message }] } };
    }
    return run(api, body);
  });
}
