/** Series colours, one meaning each across every chart. */
export const COLORS = {
  p50: '#2563eb',
  p90: '#f59e0b',
  p99: '#dc2626',
  primary: '#2563eb',
  secondary: '#0d9488',
  error: '#dc2626',
  dns: '#60a5fa',
  tcp: '#34d399',
  tls: '#fbbf24',
  connect: '#94a3b8',
  upgrade: '#a78bfa',
  transports: { websocket: '#2563eb', sse: '#f97316', http: '#8b5cf6' } as Record<string, string>,
};

export function transportColor(transport: string): string {
  return COLORS.transports[transport] ?? '#64748b';
}
