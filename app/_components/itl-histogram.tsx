'use client';

import type { HistogramBin } from '@/db/queries/response';
import { formatTick } from '@/lib/ui/format';
import { BarsChart } from './charts';
import { COLORS } from './palette';

export function ItlHistogram({ bins }: { bins: HistogramBin[] }) {
  return (
    <BarsChart
      title="Inter-token latency distribution"
      unit="count"
      data={bins.map((bin) => ({
        gap: bin.fromMs === bin.toMs ? formatTick(bin.fromMs, 'ms') : `${formatTick(bin.fromMs, 'ms')}–${formatTick(bin.toMs, 'ms')}`,
        gaps: bin.count,
      }))}
      category="gap"
      categoryLabel="gap between tokens (ms)"
      bars={[{ key: 'gaps', label: 'gaps', color: COLORS.primary }]}
      testId="itl-histogram"
    />
  );
}
