import Link from 'next/link';
import { notFound } from 'next/navigation';
import { createAlertsApi, type EventView, type RuleView } from '@/alerts';
import { sharedStore } from '@/db/client';
import styles from '../../../_components/alerts/alerts.module.css';
import { HistoryTable } from '../../../_components/alerts/history-table';
import { RuleActions } from '../../../_components/alerts/rule-actions';
import { RuleEditor } from '../../../_components/alerts/rule-editor';
import { DisabledBadge, formatTime, LastValue, StateBadge } from '../../../_components/alerts/rule-summary';

export const dynamic = 'force-dynamic';

export default async function AlertRulePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  // The API's own handlers, so the page and GET /api/alerts/:id agree on ids and views.
  const api = createAlertsApi(await sharedStore());
  const [found, history] = await Promise.all([api.get({ id }), api.history({ id })]);
  if (found.status !== 200) notFound();
  const { rule } = found.body as { rule: RuleView };
  const { events } = history.body as { events: EventView[] };
  return (
    <>
      <section className={styles.header}>
        <div className="view-title">
          <p className="crumbs">
            <Link href="/alerts">← Alerts</Link>
          </p>
          <h1>{rule.name}</h1>
          <p className="muted" data-testid="rule-status">
            {rule.enabled ? <StateBadge state={rule.state} /> : <DisabledBadge />} {rule.description} · last value <LastValue rule={rule} /> ·
            evaluated {formatTime(rule.lastEvaluatedAt)}
          </p>
        </div>
        <RuleActions id={rule.id} name={rule.name} />
      </section>
      <HistoryTable rule={rule} events={events} />
      <section className="card section">
        <h2>Edit rule</h2>
        <RuleEditor rule={rule} />
      </section>
    </>
  );
}
