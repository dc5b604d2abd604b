/*
 * Traffic with known figures, for the query tests and the browser test: one chat service
 * on one model over WebSocket (4 reused sockets) and SSE (a connection per response), plus
 * a small batch service over plain HTTP. Latencies are arithmetic sequences, so every
 * percentile is known in closed form.
 */
import type { NewConnectionRow, NewResponseRow } from '../../schema';

export const SEED_MINUTES = 10;
export const TOKENS = 20;
export const WS_RESPONSES = 200;
export const WS_CONNECTIONS = 4;
export const SSE_RESPONSES = 200;
export const BATCH_RESPONSES = 20;

export const ttftMs = {
  websocket: (i: number) => 100 + 0.25 * i,
  sse: (i: number) => 150 + 0.25 * i,
  http: (i: number) => 120 + 0.5 * i,
};
export const ITL_MS = { websocket: 10, sse: 12, http: 15 };
/** Tail after the last token. */
const TAIL_MS = 5;
/** Phases reported apart, and their sum as the connect figure, as the instrumentation reports them. */
export const HANDSHAKE = { dnsMs: 5, tcpMs: 10, tlsMs: 20, connectMs: 35 };
export const WS_UPGRADE_MS = 15;
export const BYTES = { websocket: { sent: 300, received: 2000 }, sse: { sent: 800, received: 4000 }, http: { sent: 800, received: 4000 } };

type Transport = keyof typeof ttftMs;

const hex = (prefix: string, i: number, length: number) => prefix + i.toString(16).padStart(length - prefix.length, '0');

export function seedTraceId(transport: Transport, i: number): string {
  return hex({ websocket: 'a', sse: 'b', http: 'c' }[transport], i, 32);
}

export function seedSpanId(i: number, variant = 0): string {
  return hex(String(1 + variant), i, 16);
}

/** Tells apart several seedings of the same traffic: ids differ, figures do not. */
const tagged = (id: string, variant: number) => (variant ? `${id}_v${variant}` : id);

function response(transport: Transport, i: number, startTime: number, variant: number, overrides: Partial<NewResponseRow>): NewResponseRow {
  const ttft = ttftMs[transport](i);
  const itl = ITL_MS[transport];
  return {
    traceId: seedTraceId(transport, i),
    spanId: seedSpanId(i, variant),
    service: 'chat-api',
    provider: 'openai',
    model: 'gpt-test',
    operation: 'chat',
    api: 'openai.responses',
    transport,
    responseId: tagged(`resp_${transport}_${i}`, variant),
    startTime: new Date(startTime),
    ttfbMs: ttft - 1,
    ttftMs: ttft,
    durationMs: ttft + (TOKENS - 1) * itl + TAIL_MS,
    inputTokens: 30,
    outputTokens: TOKENS,
    outputChunks: TOKENS,
    tokensPerSecond: TOKENS / (((TOKENS - 1) * itl + TAIL_MS) / 1000),
    itlMeanMs: itl,
    itlP50Ms: itl,
    itlP99Ms: itl,
    itlMaxMs: itl,
    tokenOffsetsUs: Array.from({ length: TOKENS }, (_, k) => Math.round((ttft + k * itl) * 1000)),
    outcome: 'completed',
    status: 'ok',
    bytesSent: BYTES[transport].sent,
    bytesReceived: BYTES[transport].received,
    attributes: { 'gen_ai.request.temperature': 0.2 },
    ...overrides,
  };
}

function connection(transport: 'websocket' | 'sse', i: number, variant: number, overrides: Partial<NewConnectionRow> & Pick<NewConnectionRow, 'openedAt'>): NewConnectionRow {
  return {
    traceId: hex(transport === 'websocket' ? 'd' : 'e', i, 32),
    spanId: hex(String(5 + variant), i, 16),
    connectionId: tagged(`${transport === 'websocket' ? 'ws' : 'sse'}-${i}`, variant),
    service: 'chat-api',
    transport,
    serverAddress: 'api.openai.test',
    serverPort: 443,
    ...HANDSHAKE,
    status: 'ok',
    ...overrides,
  };
}

/** Every 20th SSE response fails after streaming (10 of 200). */
export const isSseError = (i: number) => i % 20 === 19;

/**
 * `base` should be minute-aligned: responses fill [base, base + SEED_MINUTES). Seedings
 * with different `variant`s (0–3) can share a database.
 */
export function seedTraffic(base: number, variant = 0): { responses: NewResponseRow[]; connections: NewConnectionRow[] } {
  const span = SEED_MINUTES * 60_000;
  const responses: NewResponseRow[] = [];
  const connections: NewConnectionRow[] = [];
  for (let i = 0; i < WS_RESPONSES; i++) {
    const socket = i % WS_CONNECTIONS;
    responses.push(
      response('websocket', i, base + (i * span) / WS_RESPONSES, variant, {
        connectionId: tagged(`ws-${socket}`, variant),
        connectionReused: i >= WS_CONNECTIONS,
      }),
    );
  }
  for (let socket = 0; socket < WS_CONNECTIONS; socket++) {
    connections.push(
      connection('websocket', socket, variant, {
        openedAt: new Date(base - 1000),
        // Half the sockets never closed; the other half outlive the seeded minutes.
        closedAt: socket % 2 ? null : new Date(base + span + 5000),
        upgradeMs: WS_UPGRADE_MS,
        responses: WS_RESPONSES / WS_CONNECTIONS,
        bytesSent: (BYTES.websocket.sent * WS_RESPONSES) / WS_CONNECTIONS,
        bytesReceived: (BYTES.websocket.received * WS_RESPONSES) / WS_CONNECTIONS,
        closeCode: socket % 2 ? null : 1000,
      }),
    );
  }
  for (let i = 0; i < SSE_RESPONSES; i++) {
    const start = base + (i * span) / SSE_RESPONSES + 1000;
    const row = response('sse', i, start, variant, {
      connectionId: tagged(`sse-${i}`, variant),
      connectionReused: false,
      ...(isSseError(i) ? { status: 'error', outcome: 'failed', errorType: 'server_error', errorMessage: 'upstream reset' } : {}),
    });
    responses.push(row);
    connections.push(
      connection('sse', i, variant, {
        openedAt: new Date(start - 40),
        closedAt: new Date(start + row.durationMs + 10),
        responses: 1,
        bytesSent: BYTES.sse.sent,
        bytesReceived: BYTES.sse.received,
      }),
    );
  }
  for (let i = 0; i < BATCH_RESPONSES; i++) {
    responses.push(
      response('http', i, base + (i * span) / BATCH_RESPONSES + 2000, variant, {
        service: 'batch-worker',
        model: 'gpt-mini',
        responseId: tagged(`resp_batch_${i}`, variant),
      }),
    );
  }
  return { responses, connections };
}

/** The exact quantile the dashboard reports: the value at rank q·(n−1). */
export function exactQuantile(values: readonly number[], q: number): number {
  return [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];
}
