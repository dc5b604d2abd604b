/**
 * Seeded token schedules: every timing the mock injects comes from here, so a test or a
 * benchmark can replay the same seed and compare what it recorded against what was sent.
 */

/** mulberry32: tiny, fast and good enough for jitter; determinism is the point, not quality. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Distribution =
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; min: number; max: number }
  /** Right-skewed like real model latency: most samples near the median, a long tail. */
  | { kind: 'lognormal'; median: number; sigma: number; max?: number };

export function sample(distribution: Distribution, random: () => number): number {
  switch (distribution.kind) {
    case 'constant':
      return distribution.value;
    case 'uniform':
      return distribution.min + (distribution.max - distribution.min) * random();
    case 'lognormal': {
      // Box–Muller; 1 - random() keeps the logarithm's argument away from zero.
      const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const value = distribution.median * Math.exp(distribution.sigma * normal);
      return Math.min(value, distribution.max ?? Number.POSITIVE_INFINITY);
    }
  }
}

export interface ScheduleConfig {
  /** Milliseconds from the request's arrival to the first output token. */
  ttftMs: Distribution;
  /** Milliseconds between consecutive output tokens. */
  interTokenMs: Distribution;
  /** Output tokens per response (rounded, at least 1). */
  outputTokens: Distribution;
  /** Probability in [0, 1] that a response fails instead of completing. */
  errorRate: number;
}

export const DEFAULT_SCHEDULE_CONFIG: ScheduleConfig = {
  ttftMs: { kind: 'lognormal', median: 120, sigma: 0.3, max: 1000 },
  interTokenMs: { kind: 'lognormal', median: 15, sigma: 0.4, max: 200 },
  outputTokens: { kind: 'uniform', min: 20, max: 60 },
  errorRate: 0,
};

export const INJECTED_FAILURE_MESSAGE = 'Injected failure (mock error rate).';

export interface TokenSchedule {
  /** Seed this schedule was derived from: `scheduleFromSeed(seed, config)` reproduces it. */
  seed: number;
  ttftMs: number;
  /** Gap before each token after the first, so `gapsMs.length === tokens.length - 1`. */
  gapsMs: number[];
  /** The text of each output token, in order. */
  tokens: string[];
  /** When set, the response fails after this many tokens have been sent. */
  failAfterTokens: number | null;
}

const WORDS = [
  'stream', 'token', 'latency', 'socket', 'model', 'response', 'first', 'byte', 'round', 'trip',
  'the', 'a', 'of', 'to', 'and', 'fast', 'steady', 'reused', 'connection', 'handshake',
];

/** Integer milliseconds keep the schedule exact when it travels as JSON or in a header. */
function roundMs(value: number): number {
  return Math.max(0, Math.round(value));
}

export function scheduleFromSeed(seed: number, config: ScheduleConfig): TokenSchedule {
  const random = mulberry32(seed);
  const ttftMs = roundMs(sample(config.ttftMs, random));
  const count = Math.max(1, Math.round(sample(config.outputTokens, random)));
  const tokens = Array.from({ length: count }, (_, i) => (i === 0 ? '' : ' ') + WORDS[Math.floor(random() * WORDS.length)]);
  const gapsMs = Array.from({ length: count - 1 }, () => roundMs(sample(config.interTokenMs, random)));
  const failAfterTokens = random() < config.errorRate ? Math.floor(random() * count) : null;
  return { seed, ttftMs, gapsMs, tokens, failAfterTokens };
}

/** Hands out one schedule per response; per-response seeds come from the base seed in arrival order. */
export function createScheduler(baseSeed: number, config: ScheduleConfig): () => TokenSchedule {
  const seeds = mulberry32(baseSeed);
  return () => scheduleFromSeed(Math.floor(seeds() * 4294967296), config);
}
