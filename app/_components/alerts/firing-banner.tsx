/*
 * The rules firing now, for the top of the overview: name, value against threshold, and a
 * link to each. Renders nothing while nothing fires.
 */
import Link from 'next/link';
import { listRules, ruleView } from '@/alerts';
import { sharedStore } from '@/db/client';
import styles from './alerts.module.css';
import { LastValue } from './rule-summary';

export async function FiringBanner() {
  const { db } = await sharedStore();
  const firing = (await listRules(db)).filter((rule) => rule.state === 'firing').map(ruleView);
  if (firing.length === 0) return null;
  return (
    <section className={styles.banner} aria-label="Firing alerts" data-testid="firing-banner">
      <strong>
        {firing.length} alert{firing.length === 1 ? '' : 's'} firing:
      </strong>
      <ul>
        {firing.map((rule) => (
          <li key={rule.id}>
            <Link href={`/alerts/${rule.id}`}>{rule.name}</Link> <LastValue rule={rule} />
          </li>
        ))}
      </ul>
    </section>
  );
}
