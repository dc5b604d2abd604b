'use client';

import type { TransportColumn } from '@/db/queries/compare';
import { transportName } from '@/lib/ui/format';
import { BarsChart, type Datum } from './charts';
import { transportColor } from './palette';

const FIGURES = [
  ['ttftP50', 'TTFT p50'],
  ['ttftP99', 'TTFT p99'],
  ['durationP50', 'e2e p50'],
  ['durationP99', 'e2e p99'],
  ['connectionOverheadMs', 'conn. overhead'],
] as const;

/** Latency figures side by side, one bar per transport. */
export function CompareChart({ transports }: { transports: Pick<TransportColumn, 'transport' | 'values'>[] }) {
  const data: Datum[] = FIGURES.map(([key, label]) => ({
    figure: label,
    ...Object.fromEntries(transports.map((t) => [t.transport, t.values[key]])),
  }));
  return (
    <BarsChart
      title="Latency by transport"
      unit="ms"
      data={data}
      category="figure"
      categoryLabel=""
      bars={transports.map((t) => ({ key: t.transport, label: transportName(t.transport), color: transportColor(t.transport) }))}
      testId="compare-chart"
    />
  );
}
