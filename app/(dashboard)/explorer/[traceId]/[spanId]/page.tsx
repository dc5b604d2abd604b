import Link from 'next/link';
import { notFound } from 'next/navigation';
import { sharedStore } from '@/db/client';
import { handshakeMsOf } from '@/db/handshake';
import { responseDetail } from '@/db/queries/response';
import { attributeText, formatValue, outcomeClass, transportName } from '@/lib/ui/format';
import { withParams, type SearchParams } from '@/lib/ui/view-params';
import { ItlHistogram } from '../../../../_components/itl-histogram';
import { TokenTimeline } from '../../../../_components/charts';
import { Tiles } from '../../../../_components/tiles';

export const dynamic = 'force-dynamic';

const time = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' });

function Attributes({ entries }: { entries: [string, unknown][] }) {
  return (
    <dl className="attributes">
      {entries
        .filter(([, value]) => value !== null && value !== undefined && value !== '')
        .map(([key, value]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd className="mono">{attributeText(value)}</dd>
          </div>
        ))}
    </dl>
  );
}

export default async function ResponsePage({
  params,
  searchParams,
}: {
  params: Promise<{ traceId: string; spanId: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const [{ traceId, spanId }, query] = await Promise.all([params, searchParams]);
  const { db } = await sharedStore();
  const detail = await responseDetail(db, traceId, spanId);
  if (!detail) notFound();
  const { response: r, connection: c } = detail;
  const { tokenOffsetsUs: _offsets, attributes, ...columns } = r;
  const handshake = c ? handshakeMsOf(c) : null;
  return (
    <>
      <section className="view-header">
        <div className="view-title">
          <p className="crumbs">
            <Link href={`/explorer${withParams(query, {})}`}>← Explorer</Link>
          </p>
          <h1 className="mono">{r.responseId ?? `${r.traceId}/${r.spanId}`}</h1>
          <p className="muted">
            {r.service} · {r.model ?? 'model not reported'} · {transportName(r.transport ?? '')} · started {time.format(r.startTime)} UTC ·{' '}
            <span className={`status ${outcomeClass(r)}`}>{r.outcome ?? r.status}</span>
            {r.errorMessage ? ` — ${r.errorMessage}` : ''}
          </p>
        </div>
      </section>
      <Tiles
        tiles={[
          { id: 'ttft', label: 'Time to first token', value: r.ttftMs, unit: 'ms', detail: { label: 'first byte', value: r.ttfbMs, unit: 'ms' } },
          { id: 'duration', label: 'End-to-end', value: r.durationMs, unit: 'ms' },
          { id: 'tokens', label: 'Output tokens', value: r.outputTokens, unit: 'count', detail: { label: 'at', value: r.tokensPerSecond, unit: 'tokens/s' } },
          { id: 'itl', label: 'Inter-token p50', value: r.itlP50Ms, unit: 'ms', detail: { label: 'p99', value: r.itlP99Ms, unit: 'ms' } },
          { id: 'itl-max', label: 'Longest gap', value: r.itlMaxMs, unit: 'ms' },
        ]}
      />
      {detail.tokens.length > 0 ? (
        <div className="chart-grid timeline">
          <TokenTimeline tokens={detail.tokens} ttftMs={r.ttftMs} durationMs={r.durationMs} />
          <ItlHistogram bins={detail.itlBins} />
        </div>
      ) : (
        <div className="empty">
          <h2>No token timeline</h2>
          {r.outputChunks === 0 ? (
            <p>No output arrived before the response ended ({r.outcome ?? r.status}).</p>
          ) : (
            <p>This span carried no per-token arrival offsets (the Streamscope instrumentation records them; other GenAI instrumentations do not).</p>
          )}
        </div>
      )}
      <div className="split">
        <section className="card section">
          <h2>Attributes</h2>
          <Attributes entries={[...Object.entries(columns), ...Object.entries(attributes)]} />
        </section>
        <section className="card section" data-testid="response-connection">
          <h2>Connection</h2>
          {c ? (
            <>
              <p className="muted">
                {c.connectionId} · {c.serverAddress ?? '?'}:{c.serverPort ?? '?'} · carried {detail.connectionResponses} response
                {detail.connectionResponses === 1 ? '' : 's'}
                {r.connectionReused ? '; this one reused it' : '; this one opened it'}
              </p>
              <Attributes
                entries={[
                  ['handshake', formatValue(handshake, 'ms')],
                  ['dns', formatValue(c.dnsMs, 'ms')],
                  ['tcp', formatValue(c.tcpMs, 'ms')],
                  ['tls', formatValue(c.tlsMs, 'ms')],
                  ['upgrade', formatValue(c.upgradeMs, 'ms')],
                  ['connect', formatValue(c.connectMs, 'ms')],
                  ['opened', `${time.format(c.openedAt)} UTC`],
                  ['closed', c.closedAt ? `${time.format(c.closedAt)} UTC` : 'not yet: the figures are those of its latest open report'],
                  ['bytes sent', formatValue(c.bytesSent, 'bytes')],
                  ['bytes received', formatValue(c.bytesReceived, 'bytes')],
                  ['close code', c.closeCode],
                  ['status', c.status],
                ]}
              />
            </>
          ) : (
            <p className="muted">{r.connectionId ? `Connection ${r.connectionId} has not been reported (yet).` : 'No connection recorded for this response.'}</p>
          )}
        </section>
      </div>
    </>
  );
}
