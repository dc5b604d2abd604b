import Link from 'next/link';
import { RuleEditor } from '../../../_components/alerts/rule-editor';

export const dynamic = 'force-dynamic';

export default function NewAlertPage() {
  return (
    <>
      <section className="view-header">
        <div className="view-title">
          <p className="crumbs">
            <Link href="/alerts">← Alerts</Link>
          </p>
          <h1>New alert rule</h1>
          <p className="muted">Fires when the statistic over the window breaches the threshold for the pending duration.</p>
        </div>
      </section>
      <section className="card section">
        <RuleEditor />
      </section>
    </>
  );
}
