/*
 * Shown instead of charts: either nothing was ever received (how to send data), or the
 * range and filters match nothing (widen them).
 */
const SNIPPET = `import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';

new NodeSDK({
  traceExporter: new OTLPTraceExporter({ url: 'http://localhost:4318/v1/traces' }),
  instrumentations: [new StreamscopeInstrumentation()],
}).start();`;

export function EmptyState({ hasData }: { hasData: boolean }) {
  if (hasData) {
    return (
      <div className="empty" data-testid="empty-range">
        <h2>Nothing in this range</h2>
        <p>No responses match the time range and filters. Pick a longer range or clear a filter.</p>
      </div>
    );
  }
  return (
    <div className="empty" data-testid="empty-state">
      <h2>No data yet</h2>
      <p>
        Streamscope fills in as soon as your app streams a response. Add the instrumentation to the process that calls the model, before
        anything else loads:
      </p>
      <pre className="code">{SNIPPET}</pre>
      <p>
        Or watch it work first: <code>npm run demo</code> starts a mock model server and a load generator that stream over WebSocket and
        SSE into this dashboard.
      </p>
    </div>
  );
}
