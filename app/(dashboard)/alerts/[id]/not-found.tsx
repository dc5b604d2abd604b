import Link from 'next/link';

export default function AlertRuleNotFound() {
  return (
    <div className="empty">
      <h2>No such alert rule</h2>
      <p>
        It may have been deleted, or removed by <code>npm run alerts -- apply rules.json --prune</code>. <Link href="/alerts">See all rules</Link>.
      </p>
    </div>
  );
}
