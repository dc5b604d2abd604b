/*
 * The browser side of the alerts API: one call and its outcome, with whatever went wrong
 * (a refused rule, an expired session, a dashboard that did not answer) as field errors,
 * so every form and button reports problems the same way.
 */
import type { FieldError } from '@/alerts/rule';

/** When not ok, each error names its field ('' for the request as a whole). */
export type ApiOutcome<T> = { ok: true; body: T } | { ok: false; errors: FieldError[] };

export async function callAlertsApi<T>(path: string, method: 'POST' | 'PATCH' | 'DELETE', body?: unknown): Promise<ApiOutcome<T>> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    return { ok: false, errors: [{ field: '', message: `The dashboard did not answer: ${(error as Error).message}` }] };
  }
  const parsed: unknown = response.status === 204 ? undefined : await response.json().catch(() => undefined);
  if (response.ok) return { ok: true, body: parsed as T };
  if (response.status === 401) return { ok: false, errors: [{ field: '', message: 'Your session has expired: reload the page and sign in again.' }] };
  const refusal = (parsed ?? {}) as { error?: string; errors?: FieldError[] };
  return { ok: false, errors: refusal.errors ?? [{ field: '', message: refusal.error ?? `The dashboard answered HTTP ${response.status}.` }] };
}
