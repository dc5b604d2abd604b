import { COMPARED_METRICS, compareTransports, LEVEL_PERCENT, type ComparedMetric, type Difference, type ModelComparison } from '@/db/queries/compare';
import { differenceSentence, formatValue, intervalText, transportName } from '@/lib/ui/format';
import type { SearchParams } from '@/lib/ui/view-params';
import { EmptyState } from '../../_components/empty-state';
import { CompareChart } from '../../_components/compare-chart';
import { ViewHeader } from '../../_components/view-header';
import { loadDashboard } from '../../_lib/dashboard';

export const dynamic = 'force-dynamic';

/** The figures the provider's claims are about, stated first in words. */
const HEADLINE: ComparedMetric[] = ['ttftP50', 'durationP50', 'responsesPerSecond', 'connectionOverheadMs', 'bytesPerResponse'];

/** Green when the candidate is the better, red when the worse, plain when level or not comparable, grey when not significant. */
function toneOf(difference: Difference): string {
  if (difference.significant === false) return 'muted';
  return difference.improved === null ? '' : difference.improved ? 'better' : 'worse';
}

const NOT_SIGNIFICANT = 'Not a clear difference with these samples: the 95 % intervals overlap, or for a rate a two-proportion test does not reject equality.';

function Headline({ comparison }: { comparison: ModelComparison }) {
  const { candidate, baseline } = comparison;
  if (!candidate || !baseline) {
    const seen = comparison.transports.map((t) => transportName(t.transport)).join(', ');
    return <p className="muted">Only {seen} traffic for this model in the range: send both WebSocket and SSE/HTTP traffic to compare them.</p>;
  }
  return (
    <ul className="sentences" data-testid="compare-sentences">
      {HEADLINE.map((metric) => {
        const difference = comparison.differences.find((d) => d.metric === metric)!;
        const label = COMPARED_METRICS.find((m) => m.key === metric)!.label;
        return (
          <li key={metric} className={toneOf(difference)}>
            {differenceSentence(candidate, baseline, label, difference)}
          </li>
        );
      })}
    </ul>
  );
}

function formatPercent(percent: number | null): string {
  if (percent === null) return '—';
  return `${percent > 0 ? '+' : ''}${percent.toFixed(Math.abs(percent) < 10 ? 1 : 0)} %`;
}

function ComparisonTable({ comparison }: { comparison: ModelComparison }) {
  const { transports, candidate, baseline } = comparison;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Metric</th>
          {transports.map((t) => (
            <th key={t.transport} className="num">
              {transportName(t.transport)}
              <span className="muted"> ({t.responses.toLocaleString('en-US')})</span>
            </th>
          ))}
          {candidate && baseline ? (
            <th className="num">
              {transportName(candidate)} vs {transportName(baseline)}
            </th>
          ) : null}
        </tr>
      </thead>
      <tbody>
        {COMPARED_METRICS.map((metric) => {
          const difference = comparison.differences.find((d) => d.metric === metric.key);
          return (
            <tr key={metric.key}>
              <td>
                {metric.label}
                <span className="better-hint" title={`${metric.better} is better`}>
                  {metric.better === 'lower' ? '↓' : '↑'} better
                </span>
              </td>
              {transports.map((t) => {
                const evidence = t.evidence[metric.key];
                return (
                  <td key={t.transport} className="num" title={evidence && 'interval' in evidence ? intervalText(evidence.interval, metric.unit) : undefined}>
                    {formatValue(t.values[metric.key], metric.unit)}
                  </td>
                );
              })}
              {difference ? (
                <td className={`num ${toneOf(difference)}`} title={difference.significant === false ? NOT_SIGNIFICANT : undefined}>
                  {formatPercent(difference.percent)}
                  {difference.significant === false ? <span> · not clear</span> : null}
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export default async function ComparePage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const dashboard = await loadDashboard(searchParams);
  const { models } = await compareTransports(dashboard.db, dashboard.view.filter);
  return (
    <>
      <ViewHeader
        title="Compare transports"
        subtitle={`WebSocket against HTTP/SSE on the same model. Connection overhead is each connection's handshake (DNS + TCP + TLS + upgrade) divided by the responses it carried. Differences of one histogram bucket (${LEVEL_PERCENT.toFixed(2)} %) or less count as level, and those the samples cannot tell from noise at 95 % confidence (percentiles whose intervals overlap; rates by a two-proportion test) are greyed.`}
        dashboard={dashboard}
        dimensions={['service', 'model']}
      />
      {models.length === 0 ? <EmptyState hasData={dashboard.hasData} /> : null}
      {models.map((comparison) => (
        <section key={comparison.model} className="card section" data-testid={`compare-${comparison.model}`}>
          <h2>{comparison.model || '(model not reported)'}</h2>
          <Headline comparison={comparison} />
          <div className="split">
            <ComparisonTable comparison={comparison} />
            <CompareChart transports={comparison.transports.map(({ transport, values }) => ({ transport, values }))} />
          </div>
        </section>
      ))}
    </>
  );
}
