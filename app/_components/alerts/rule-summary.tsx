/*
 * How a rule's state and figures read wherever a rule is shown: the list, the rule's page,
 * the firing banner. Plain markup, usable from server and client components alike.
 */
import type { RuleView } from '@/alerts';
import { formatValue, METRIC_SPECS, readingText } from '@/alerts/rule';
import styles from './alerts.module.css';

const time = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' });

export function formatTime(iso: string | null): string {
  return iso === null ? '—' : `${time.format(new Date(iso))} UTC`;
}

export function StateBadge({ state }: { state: string }) {
  return <span className={`${styles.badge} ${styles[state] ?? ''}`}>{state}</span>;
}

export function DisabledBadge() {
  return <span className={`${styles.badge} ${styles.disabled}`}>disabled</span>;
}

/** "412 ms (> 300 ms)": the last value beside the condition it is judged by. */
export function LastValue({ rule }: { rule: RuleView }) {
  if (rule.lastEvaluatedAt === null) return <span className="muted">not evaluated yet</span>;
  return (
    <span className="nowrap">
      {readingText(rule, rule.lastValue, rule.lastResponses)}{' '}
      <span className="muted">
        ({rule.comparison} {formatValue(Number(rule.threshold), METRIC_SPECS[rule.metric].unit)})
      </span>
    </span>
  );
}
