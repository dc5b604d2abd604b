import Link from 'next/link';
import { listRules, ruleView, type RuleView } from '@/alerts';
import { sharedStore } from '@/db/client';
import styles from '../../_components/alerts/alerts.module.css';
import { DisabledBadge, formatTime, LastValue, StateBadge } from '../../_components/alerts/rule-summary';

export const dynamic = 'force-dynamic';

const RULES_FILE = `{
  "rules": [
    {
      "name": "websocket ttft p99",
      "metric": "ttft",
      "statistic": "p99",
      "comparison": ">",
      "threshold": "300ms",
      "window": "5m",
      "pending": "2m",
      "filters": { "transport": "websocket" },
      "webhooks": ["https://alerts.example/in"]
    }
  ]
}`;

function NoRules() {
  return (
    <div className="empty" data-testid="alerts-empty">
      <h2>No alert rules yet</h2>
      <p>
        A rule watches one figure of your traffic — say TTFT p99 over WebSocket — and calls your webhooks when it stays over its threshold
        and again when it recovers. <Link href="/alerts/new">Create a rule</Link> here, or keep rules in your repository and apply the file:
      </p>
      <pre className="code">{RULES_FILE}</pre>
      <pre className="code">npm run alerts -- apply rules.json</pre>
      <p>
        Applying again updates the rules by name; <code>--prune</code> also deletes the rules the file no longer lists.
      </p>
    </div>
  );
}

function RulesTable({ rules }: { rules: RuleView[] }) {
  return (
    <div className="card table-card">
      <table className="table" data-testid="alerts-table">
        <thead>
          <tr>
            <th>Rule</th>
            <th>Condition</th>
            <th>State</th>
            <th>Last value</th>
            <th>Last evaluated</th>
          </tr>
        </thead>
        <tbody>
          {rules.map((rule) => (
            <tr key={rule.id}>
              <td>
                <Link href={`/alerts/${rule.id}`}>{rule.name}</Link>
              </td>
              <td>{rule.description}</td>
              <td className="nowrap">
                {rule.enabled ? <StateBadge state={rule.state} /> : <DisabledBadge />}
                {rule.enabled && rule.state !== 'inactive' ? <span className="muted"> since {formatTime(rule.stateSince)}</span> : null}
              </td>
              <td>
                <LastValue rule={rule} />
              </td>
              <td className="nowrap muted">{formatTime(rule.lastEvaluatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default async function AlertsPage() {
  const { db } = await sharedStore();
  const rules = (await listRules(db)).map(ruleView);
  return (
    <>
      <section className="view-header">
        <div className="view-title">
          <h1>Alerts</h1>
          <p className="muted">Latency budgets, evaluated by the collector from the per-minute rollups.</p>
        </div>
        <Link href="/alerts/new" className={styles.buttonLink}>
          New rule
        </Link>
      </section>
      {rules.length === 0 ? <NoRules /> : <RulesTable rules={rules} />}
    </>
  );
}
