'use client';

import type { ConnectionsView } from '@/db/queries/connections';
import { transportName } from '@/lib/ui/format';
import { BarsChart, type SeriesSpec } from './charts';
import { COLORS } from './palette';

const PHASES: SeriesSpec[] = [
  { key: 'dnsMs', label: 'DNS', color: COLORS.dns },
  { key: 'tcpMs', label: 'TCP', color: COLORS.tcp },
  { key: 'tlsMs', label: 'TLS', color: COLORS.tls },
  { key: 'unsplitMs', label: 'connect (not split)', color: COLORS.connect },
  { key: 'upgradeMs', label: 'upgrade', color: COLORS.upgrade },
];

type Phases = Pick<ConnectionsView['summary'][number], 'dnsMs' | 'tcpMs' | 'tlsMs' | 'connectMs' | 'upgradeMs'>;

/**
 * The bar segments of one connection or transport. Where DNS, TCP and TLS were not reported
 * apart (fetch over TLS, the global WebSocket), the connect time they do not account for is
 * a segment of its own, so such a handshake is not drawn as nothing.
 */
function phases({ dnsMs, tcpMs, tlsMs, connectMs, upgradeMs }: Phases) {
  const unsplit = (connectMs ?? 0) - ((dnsMs ?? 0) + (tcpMs ?? 0) + (tlsMs ?? 0));
  return { dnsMs, tcpMs, tlsMs, unsplitMs: unsplit > 1e-6 ? unsplit : null, upgradeMs };
}

export function ConnectionCharts({ view }: { view: ConnectionsView }) {
  return (
    <div className="chart-grid">
      <BarsChart
        title="Mean handshake by transport"
        unit="ms"
        data={view.summary.map((s) => ({ transport: transportName(s.transport), ...phases(s) }))}
        category="transport"
        categoryLabel=""
        bars={PHASES}
        stacked
        testId="chart-phases-by-transport"
      />
      <BarsChart
        title="Responses per connection"
        unit="count"
        data={view.distribution.map((bin) => ({ responses: bin.label, connections: bin.connections }))}
        category="responses"
        categoryLabel="responses carried"
        bars={[{ key: 'connections', label: 'connections', color: COLORS.secondary }]}
        testId="chart-responses-per-connection"
      />
      <div className="span-2">
        <BarsChart
          title="Handshake of the latest connections"
          unit="ms"
          data={[...view.recent].reverse().map((c) => ({ connection: c.connectionId.slice(-8), ...phases(c) }))}
          category="connection"
          categoryLabel="connection (oldest → newest)"
          bars={PHASES}
          stacked
          testId="chart-phases-recent"
        />
      </div>
    </div>
  );
}
