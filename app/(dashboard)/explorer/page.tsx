import Link from 'next/link';
import { COUNT_LIMIT, EXPLORER_SORTS, exploreResponses, type ExplorerSort } from '@/db/queries/explorer';
import { formatValue, outcomeClass, transportName } from '@/lib/ui/format';
import { param, withParams, type SearchParams } from '@/lib/ui/view-params';
import { EmptyState } from '../../_components/empty-state';
import { ExplorerControls } from '../../_components/explorer-controls';
import { ViewHeader } from '../../_components/view-header';
import { loadDashboard } from '../../_lib/dashboard';

export const dynamic = 'force-dynamic';

const COLUMNS: { label: string; sort?: ExplorerSort; numeric?: boolean }[] = [
  { label: 'Started', sort: 'start' },
  { label: 'Response' },
  { label: 'Service / model' },
  { label: 'Transport' },
  { label: 'Status' },
  { label: 'TTFT', sort: 'ttft', numeric: true },
  { label: 'End-to-end', sort: 'duration', numeric: true },
  { label: 'Tokens', sort: 'tokens', numeric: true },
  { label: 'Tokens/s', sort: 'tps', numeric: true },
];

const time = new Intl.DateTimeFormat('en-GB', { dateStyle: 'short', timeStyle: 'medium', timeZone: 'UTC' });

export default async function ExplorerPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const dashboard = await loadDashboard(searchParams);
  const { params } = dashboard;
  const requestedSort = param(params, 'sort');
  const sort: ExplorerSort = requestedSort && requestedSort in EXPLORER_SORTS ? (requestedSort as ExplorerSort) : 'start';
  const order = param(params, 'order') === 'asc' ? 'asc' : 'desc';
  const status = param(params, 'status');
  const search = param(params, 'q');
  const result = await exploreResponses(dashboard.db, {
    filter: dashboard.view.filter,
    search,
    status: status === 'ok' || status === 'error' ? status : undefined,
    sort,
    order,
    page: Number(param(params, 'page') ?? 1) || 1,
  });
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  // Past a capped count, a full page is the only sign that another follows.
  const hasNext = result.totalCapped ? result.rows.length === result.pageSize : result.page < pages;
  const query = withParams(params, {});
  return (
    <>
      <ViewHeader title="Explorer" subtitle="Every streamed response; open one for its token timeline." dashboard={dashboard} />
      <ExplorerControls />
      {result.total === 0 ? (
        search ? (
          <div className="empty">
            <h2>No response matches “{search}”</h2>
            <p>Search takes the start of a response id (resp_…) or a trace id (32 hex characters).</p>
          </div>
        ) : (
          <EmptyState hasData={dashboard.hasData} />
        )
      ) : (
        <div className="card table-card">
          <table className="table" data-testid="explorer-table">
            <thead>
              <tr>
                {COLUMNS.map((column) => {
                  const active = column.sort === sort;
                  const nextOrder = active && order === 'desc' ? 'asc' : 'desc';
                  return (
                    <th key={column.label} className={column.numeric ? 'num' : undefined} aria-sort={active ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
                      {column.sort ? (
                        <Link href={withParams(params, { sort: column.sort, order: nextOrder, page: undefined })} className="sort">
                          {column.label}
                          {active ? (order === 'asc' ? ' ▲' : ' ▼') : ''}
                        </Link>
                      ) : (
                        column.label
                      )}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {result.rows.map((row) => (
                <tr key={`${row.traceId}/${row.spanId}`}>
                  <td className="nowrap">{time.format(row.startTime)}</td>
                  <td>
                    <Link href={`/explorer/${row.traceId}/${row.spanId}${query}`} className="mono">
                      {row.responseId ?? row.traceId.slice(0, 16)}
                    </Link>
                  </td>
                  <td>
                    {row.service}
                    <span className="muted"> / {row.model ?? '—'}</span>
                  </td>
                  <td>
                    <span className={`pill ${row.transport ?? ''}`}>{transportName(row.transport ?? '')}</span>
                    {row.connectionReused ? <span className="muted"> reused</span> : null}
                  </td>
                  <td>
                    <span className={`status ${outcomeClass(row)}`}>{row.outcome ?? row.status}</span>
                  </td>
                  <td className="num">{formatValue(row.ttftMs, 'ms')}</td>
                  <td className="num">{formatValue(row.durationMs, 'ms')}</td>
                  <td className="num">{formatValue(row.outputTokens, 'count')}</td>
                  <td className="num">{formatValue(row.tokensPerSecond, 'count')}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages">
            <span className="muted">
              {result.totalCapped
                ? `${COUNT_LIMIT.toLocaleString('en-US')}+ responses · page ${result.page} of ${(pages - 1).toLocaleString('en-US')}+`
                : `${result.total.toLocaleString('en-US')} responses · page ${result.page} of ${pages}`}{' '}
              · times in UTC
            </span>
            {result.page > 1 ? <Link href={withParams(params, { page: String(result.page - 1) })}>← Previous</Link> : null}
            {hasNext ? <Link href={withParams(params, { page: String(result.page + 1) })}>Next →</Link> : null}
          </nav>
        </div>
      )}
    </>
  );
}
