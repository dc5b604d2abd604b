/*
 * Login attempts, rate-limited per client address and in total, so the admin password
 * cannot be guessed at speed and each attempt's 32 MiB scrypt cannot be used to exhaust
 * the server. Counts live in memory (one dashboard process) in fixed one-minute windows.
 *
 * The address is the last X-Forwarded-For entry: the one the nearest proxy — or Next,
 * which fills the header from the socket when it is absent — wrote. A client talking to
 * Next directly can still send its own header and pose as many addresses, which is what
 * the total limit is for.
 */

export interface RateLimitOptions {
  /** Attempts per address per window. */
  perClient?: number;
  /** Attempts from all addresses together per window. */
  total?: number;
  windowMs?: number;
  /** Addresses remembered at once; the oldest window is forgotten first. */
  maxClients?: number;
  now?: () => number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one attempt by `client` and says whether it may go ahead. */
  attempt(client: string): RateDecision;
  /** A successful login clears the address's count, so its owner is not locked out later. */
  succeeded(client: string): void;
}

export const LOGIN_ATTEMPTS_PER_MINUTE = 10;
export const LOGIN_ATTEMPTS_PER_MINUTE_TOTAL = 100;

export function createRateLimiter(options: RateLimitOptions = {}): RateLimiter {
  const {
    perClient = LOGIN_ATTEMPTS_PER_MINUTE,
    total = LOGIN_ATTEMPTS_PER_MINUTE_TOTAL,
    windowMs = 60_000,
    maxClients = 10_000,
    now = Date.now,
  } = options;
  // Insertion order is window-start order, so the first entries are the oldest.
  const clients = new Map<string, { start: number; count: number }>();
  let all = { start: 0, count: 0 };

  const refused = (start: number): RateDecision => ({ allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((start + windowMs - now()) / 1000)) });

  return {
    attempt(client) {
      const t = now();
      if (t - all.start >= windowMs) all = { start: t, count: 0 };
      let entry = clients.get(client);
      if (!entry || t - entry.start >= windowMs) {
        clients.delete(client);
        entry = { start: t, count: 0 };
        clients.set(client, entry);
        if (clients.size > maxClients) clients.delete(clients.keys().next().value!);
      }
      if (entry.count >= perClient) return refused(entry.start);
      if (all.count >= total) return refused(all.start);
      entry.count += 1;
      all.count += 1;
      return { allowed: true };
    },
    succeeded(client) {
      clients.delete(client);
    },
  };
}

/** The client address of a request, as described above; 'unknown' when there is none. */
export function clientAddress(headers: Headers): string {
  const forwarded = headers.get('x-forwarded-for');
  const last = forwarded?.split(',').map((part) => part.trim()).filter(Boolean).pop();
  return last ?? headers.get('x-real-ip')?.trim() ?? 'unknown';
}

const loginLimiter = createRateLimiter();

/**
 * For the login action: counts the attempt and returns the message to show when it is
 * refused, else undefined.
 *
 *   const limited = loginRateLimited(await headers()); if (limited) return { error: limited };
 */
export function loginRateLimited(headers: Headers): string | undefined {
  const decision = loginLimiter.attempt(clientAddress(headers));
  return decision.allowed ? undefined : `Too many sign-in attempts. Try again in ${decision.retryAfterSeconds} s.`;
}

/** For the login action, after a correct password: `loginSucceeded(await headers())`. */
export function loginSucceeded(headers: Headers): void {
  loginLimiter.succeeded(clientAddress(headers));
}
