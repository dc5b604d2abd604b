import { RELATIVE_ACCURACY } from '@/db/histogram';
import { overview } from '@/db/queries/overview';
import type { SearchParams } from '@/lib/ui/view-params';
import { FiringBanner } from '../_components/alerts/firing-banner';
import { EmptyState } from '../_components/empty-state';
import { OverviewCharts } from '../_components/overview-charts';
import { Tiles } from '../_components/tiles';
import { ViewHeader } from '../_components/view-header';
import { loadDashboard } from '../_lib/dashboard';

export const dynamic = 'force-dynamic';

export default async function OverviewPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const dashboard = await loadDashboard(searchParams);
  const { filter } = dashboard.view;
  const data = await overview(dashboard.db, filter);
  const { tiles } = data;
  const accuracy = `within ${RELATIVE_ACCURACY * 100} %`;
  const source = data.source === 'raw'
    ? `TTFT and end-to-end exact, from raw rows; inter-token from per-minute histograms, ${accuracy}`
    : `from hourly and per-minute rollups, ${accuracy}`;
  return (
    <>
      <ViewHeader title="Overview" subtitle={`Percentiles ${source}; one point per ${data.stepSeconds} s.`} dashboard={dashboard} />
      <FiringBanner />
      {tiles.responses === 0 ? (
        <EmptyState hasData={dashboard.hasData} />
      ) : (
        <>
          <Tiles
            tiles={[
              { id: 'responses', label: 'Responses', value: tiles.responses, unit: 'count', detail: { label: 'at', value: tiles.responsesPerSecond, unit: 'responses/s' } },
              { id: 'tokens', label: 'Output tokens', value: tiles.tokensPerSecond, unit: 'tokens/s', detail: { label: 'per stream', value: tiles.streamTokensPerSecond, unit: 'tokens/s' } },
              { id: 'ttft', label: 'TTFT p50', value: tiles.ttft.p50, unit: 'ms', detail: { label: 'p99', value: tiles.ttft.p99, unit: 'ms' } },
              { id: 'itl', label: 'Inter-token p50', value: tiles.itl.p50, unit: 'ms', detail: { label: 'p99', value: tiles.itl.p99, unit: 'ms' } },
              { id: 'duration', label: 'End-to-end p50', value: tiles.duration.p50, unit: 'ms', detail: { label: 'p99', value: tiles.duration.p99, unit: 'ms' } },
              { id: 'errors', label: 'Error rate', value: tiles.errorRate, unit: 'ratio' },
              { id: 'connections', label: 'Connections in use', value: tiles.connectionsInUse, unit: 'count', detail: { label: 'in the last', value: data.stepSeconds * 1000, unit: 'ms' } },
            ]}
          />
          <OverviewCharts points={data.series} from={filter.from.getTime()} to={filter.to.getTime()} />
        </>
      )}
    </>
  );
}
