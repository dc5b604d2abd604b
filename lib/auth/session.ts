/*
 * Session cookies: `v1.<expiry ms>.<HMAC-SHA256>` signed with the credential file's session
 * secret. Stateless, so the proxy can check a request without a database round trip.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import { credentialPath, readCredential, type CredentialOptions, type StoredCredential } from './credential';

export const SESSION_COOKIE = 'streamscope_session';
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

function sign(secret: string, payload: string): string {
  return createHmac('sha256', Buffer.from(secret, 'base64')).update(payload).digest('base64url');
}

export function createSessionToken(credential: StoredCredential, now = Date.now()): string {
  const payload = `v1.${now + SESSION_TTL_MS}`;
  return `${payload}.${sign(credential.sessionSecret, payload)}`;
}

export function verifySessionToken(secret: string, token: string | undefined, now = Date.now()): boolean {
  if (!token) return false;
  const [version, expiry, signature] = token.split('.');
  if (version !== 'v1' || !expiry || !signature) return false;
  const expected = Buffer.from(sign(secret, `${version}.${expiry}`));
  const actual = Buffer.from(signature);
  return actual.length === expected.length && timingSafeEqual(actual, expected) && Number(expiry) > now;
}

let cached: { file: string; mtimeMs: number; secret: string } | undefined;

/**
 * The current session secret, re-read only when the credential file changes (a password
 * change rotates it); null before the credential exists.
 */
export async function currentSessionSecret(options: CredentialOptions = {}): Promise<string | null> {
  const file = credentialPath(options);
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    return null;
  }
  if (cached?.file === file && cached.mtimeMs === mtimeMs) return cached.secret;
  const credential = await readCredential(file);
  if (!credential) return null;
  cached = { file, mtimeMs, secret: credential.sessionSecret };
  return cached.secret;
}
