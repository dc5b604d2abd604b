/*
 * A seeded synthetic workload shaped like real streamed responses: a few services, models
 * and both transports, log-normal TTFT, jittered inter-token gaps, 100 token arrival
 * offsets per response and the attributes our instrumentation sends. The benchmarks and
 * the partition tests share it so that every figure is about the same kind of row.
 */
import type { NewResponseRow } from '../../db/schema';
import { mulberry32 } from '../../demo/mock-server/schedule';

export const SERVICES = ['chat-api', 'search', 'agent-runner'] as const;
export const MODELS = ['gpt-4.1-mini', 'gpt-4.1', 'claude-sonnet-4'] as const;
export const TRANSPORTS = ['websocket', 'sse'] as const;
export const TOKENS_PER_RESPONSE = 100;

const pick = <T>(values: readonly T[], r: number): T => values[Math.floor(r * values.length)];
/** Log-normal around `median` with spread `sigma` (Box–Muller from two uniforms). */
const logNormal = (median: number, sigma: number, u1: number, u2: number) =>
  median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2));

const hex = (value: number, length: number) => value.toString(16).padStart(length, '0').slice(-length);

/**
 * Response number `i` of a run, started at `startTime`: the same `i` and seed give the
 * same row. Ids are unique per (seed, i).
 */
export function syntheticResponse(i: number, startTime: Date, seed = 1): NewResponseRow {
  const rand = mulberry32(seed * 1_000_003 + i);
  const service = pick(SERVICES, rand());
  const model = pick(MODELS, rand());
  const transport = pick(TRANSPORTS, rand());
  const failed = rand() < 0.01;
  // WebSocket responses skip the per-request handshake, which is what the product measures.
  const ttftMs = Math.round(logNormal(transport === 'websocket' ? 160 : 250, 0.35, rand(), rand()) * 100) / 100;
  const offsets = new Array<number>(TOKENS_PER_RESPONSE);
  let at = ttftMs * 1000;
  let gapSum = 0;
  let gapMax = 0;
  for (let t = 0; t < TOKENS_PER_RESPONSE; t++) {
    if (t > 0) {
      const gap = Math.round(4000 + rand() * 16_000 + (rand() < 0.02 ? 80_000 : 0));
      at += gap;
      gapSum += gap;
      gapMax = Math.max(gapMax, gap);
    }
    offsets[t] = Math.round(at);
  }
  const durationMs = Math.round(at / 10) / 100 + 2;
  const generationS = (offsets[TOKENS_PER_RESPONSE - 1] - offsets[0]) / 1e6;
  const connection = Math.floor(i / 50);
  return {
    traceId: hex(seed, 8) + hex(i, 24),
    spanId: hex(i * 2654435761, 16),
    service,
    provider: model.startsWith('claude') ? 'anthropic' : 'openai',
    model,
    requestModel: model,
    operation: 'chat',
    api: model.startsWith('claude') ? 'anthropic.messages' : 'openai.responses',
    transport,
    connectionId: `conn-${hex(seed, 4)}-${connection}`,
    connectionReused: transport === 'websocket' && i % 50 !== 0,
    responseId: `resp_${hex(seed, 4)}${hex(i, 12)}`,
    startTime,
    ttfbMs: Math.round(ttftMs * 60) / 100,
    ttftMs,
    durationMs,
    inputTokens: 200 + Math.floor(rand() * 1800),
    outputTokens: TOKENS_PER_RESPONSE,
    outputChunks: TOKENS_PER_RESPONSE,
    tokensPerSecond: Math.round(((TOKENS_PER_RESPONSE - 1) / generationS) * 100) / 100,
    itlMeanMs: Math.round(gapSum / (TOKENS_PER_RESPONSE - 1)) / 1000,
    itlP50Ms: 12,
    itlP99Ms: Math.round(gapMax * 0.9) / 1000,
    itlMaxMs: gapMax / 1000,
    tokenOffsetsUs: offsets,
    outcome: failed ? 'failed' : 'completed',
    status: failed ? 'error' : 'ok',
    errorType: failed ? 'server_error' : null,
    errorMessage: failed ? 'The server had an error while processing your request.' : null,
    bytesSent: 1200 + Math.floor(rand() * 4000),
    bytesReceived: 18_000 + Math.floor(rand() * 6000),
    attributes: {
      'gen_ai.response.finish_reasons': failed ? ['error'] : ['stop'],
      'server.address': model.startsWith('claude') ? 'api.anthropic.com' : 'api.openai.com',
      resource: { 'service.version': '1.42.0', 'deployment.environment': 'production', 'host.name': `pod-${connection % 16}` },
    },
  };
}
