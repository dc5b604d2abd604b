'use client';

import type { OverviewPoint } from '@/db/queries/overview';
import { TimeSeriesChart, type Datum, type SeriesSpec } from './charts';
import { COLORS } from './palette';

const percentiles = (prefix: string): SeriesSpec[] => [
  { key: `${prefix}P50`, label: 'p50', color: COLORS.p50 },
  { key: `${prefix}P90`, label: 'p90', color: COLORS.p90 },
  { key: `${prefix}P99`, label: 'p99', color: COLORS.p99 },
];

/** One client component for all overview charts, so the series cross the wire once. */
export function OverviewCharts({ points, from, to }: { points: OverviewPoint[]; from: number; to: number }) {
  const data: Datum[] = points.map((p) => ({
    time: p.time,
    responsesPerSecond: p.responsesPerSecond,
    tokensPerSecond: p.tokensPerSecond,
    errorRate: p.errorRate,
    connectionsInUse: p.connectionsInUse,
    ttftP50: p.ttft.p50,
    ttftP90: p.ttft.p90,
    ttftP99: p.ttft.p99,
    itlP50: p.itl.p50,
    itlP90: p.itl.p90,
    itlP99: p.itl.p99,
    durationP50: p.duration.p50,
    durationP90: p.duration.p90,
    durationP99: p.duration.p99,
  }));
  const common = { data, from, to };
  return (
    <div className="chart-grid">
      <TimeSeriesChart title="Responses" unit="responses/s" series={[{ key: 'responsesPerSecond', label: 'responses/s', color: COLORS.primary }]} testId="chart-responses" {...common} />
      <TimeSeriesChart title="Output tokens" unit="tokens/s" series={[{ key: 'tokensPerSecond', label: 'tokens/s', color: COLORS.secondary }]} testId="chart-tokens" {...common} />
      <TimeSeriesChart title="Time to first token" unit="ms" series={percentiles('ttft')} testId="chart-ttft" {...common} />
      <TimeSeriesChart title="Inter-token latency" unit="ms" series={percentiles('itl')} testId="chart-itl" {...common} />
      <TimeSeriesChart title="End-to-end latency" unit="ms" series={percentiles('duration')} testId="chart-duration" {...common} />
      <TimeSeriesChart title="Error rate" unit="ratio" series={[{ key: 'errorRate', label: 'errors', color: COLORS.error }]} testId="chart-errors" {...common} />
      <TimeSeriesChart title="Connections in use" unit="count" series={[{ key: 'connectionsInUse', label: 'connections', color: COLORS.secondary }]} testId="chart-connections" {...common} />
    </div>
  );
}
