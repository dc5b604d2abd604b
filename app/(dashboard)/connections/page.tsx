import { handshakeMsOf } from '@/db/handshake';
import { EXPIRED_STATUS } from '@/db/ingest';
import { connectionsView } from '@/db/queries/connections';
import { formatValue, transportName } from '@/lib/ui/format';
import type { SearchParams } from '@/lib/ui/view-params';
import { ConnectionCharts } from '../../_components/connection-charts';
import { EmptyState } from '../../_components/empty-state';
import { ViewHeader } from '../../_components/view-header';
import { loadDashboard } from '../../_lib/dashboard';

export const dynamic = 'force-dynamic';

const time = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium', timeZone: 'UTC' });

export default async function ConnectionsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const dashboard = await loadDashboard(searchParams);
  const view = await connectionsView(dashboard.db, dashboard.view.filter);
  return (
    <>
      <ViewHeader
        title="Connections"
        subtitle="What each connection cost before its first byte, how long it lived and how many responses it carried. Connections opened in the range, reported while open (every 30 s) and when they close; they carry no model, so the model filter does not apply."
        dashboard={dashboard}
        dimensions={['service', 'transport']}
      />
      {view.summary.length === 0 ? (
        <EmptyState hasData={dashboard.hasData} />
      ) : (
        <>
          <div className="card table-card">
            <table className="table" data-testid="connections-summary">
              <thead>
                <tr>
                  <th>Transport</th>
                  <th className="num">Connections</th>
                  <th className="num">Open</th>
                  <th className="num">DNS</th>
                  <th className="num">TCP</th>
                  <th className="num">TLS</th>
                  <th className="num" title="Connect start to a usable transport: DNS + TCP + TLS, or one figure where they are not reported apart (fetch over TLS, the global WebSocket)">
                    Connect
                  </th>
                  <th className="num">Upgrade</th>
                  <th className="num" title="Of the connections closed; those still open have no lifetime yet">
                    Lifetime p50
                  </th>
                  <th className="num">Lifetime p99</th>
                  <th className="num">Responses / connection</th>
                </tr>
              </thead>
              <tbody>
                {view.summary.map((s) => (
                  <tr key={s.transport}>
                    <td>
                      <span className={`pill ${s.transport}`}>{transportName(s.transport)}</span>
                    </td>
                    <td className="num">{formatValue(s.connections, 'count')}</td>
                    <td className="num">{formatValue(s.open, 'count')}</td>
                    <td className="num">{formatValue(s.dnsMs, 'ms')}</td>
                    <td className="num">{formatValue(s.tcpMs, 'ms')}</td>
                    <td className="num">{formatValue(s.tlsMs, 'ms')}</td>
                    <td className="num">{formatValue(s.connectMs, 'ms')}</td>
                    <td className="num">{formatValue(s.upgradeMs, 'ms')}</td>
                    <td className="num">{formatValue(s.lifetimeP50Ms, 'ms')}</td>
                    <td className="num">{formatValue(s.lifetimeP99Ms, 'ms')}</td>
                    <td className="num">{s.responsesPerConnection === null ? '—' : s.responsesPerConnection.toFixed(1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ConnectionCharts view={view} />
          <div className="card table-card">
            <table className="table">
              <caption>Latest connections (times in UTC)</caption>
              <thead>
                <tr>
                  <th>Connection</th>
                  <th>Transport</th>
                  <th>Server</th>
                  <th>Opened</th>
                  <th className="num">Handshake</th>
                  <th className="num">Lifetime</th>
                  <th className="num">Responses</th>
                  <th className="num">Received</th>
                  <th>Close</th>
                </tr>
              </thead>
              <tbody>
                {view.recent.map((c) => (
                  <tr key={`${c.traceId}/${c.spanId}`}>
                    <td className="mono">{c.connectionId}</td>
                    <td>
                      <span className={`pill ${c.transport ?? ''}`}>{transportName(c.transport ?? '')}</span>
                    </td>
                    <td>
                      {c.serverAddress ?? '—'}
                      {c.serverPort ? `:${c.serverPort}` : ''}
                    </td>
                    <td className="nowrap">{time.format(c.openedAt)}</td>
                    <td className="num">{formatValue(handshakeMsOf(c), 'ms')}</td>
                    <td className="num">{c.lifetimeMs === null ? 'open' : formatValue(c.lifetimeMs, 'ms')}</td>
                    <td className="num">{formatValue(c.responses, 'count')}</td>
                    <td className="num">{formatValue(c.bytesReceived, 'bytes')}</td>
                    <td>{c.closeCode ?? (c.status === EXPIRED_STATUS ? 'reports stopped' : c.closedAt ? '—' : '')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
