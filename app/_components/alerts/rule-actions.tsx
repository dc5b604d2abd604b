'use client';

/** The buttons on a rule's page that act at once: send a test notification, delete. */
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import type { Delivery } from '@/alerts';
import type { FieldError } from '@/alerts/rule';
import styles from './alerts.module.css';
import { DeliveryOutcome } from './delivery-outcome';
import { callAlertsApi } from './request';

type Result = { deliveries: Delivery[] } | { errors: FieldError[] };

function ResultList({ result }: { result: Result }) {
  if ('errors' in result) {
    return (
      <p className={`${styles.actionResult} form-error`} role="alert">
        {result.errors.map((error) => (
          <span key={error.message}>{error.message}</span>
        ))}
      </p>
    );
  }
  return (
    <p className={styles.actionResult} role="status" data-testid="test-deliveries">
      <span className="muted">Test notification:</span>
      {result.deliveries.map((delivery, i) => (
        <DeliveryOutcome key={i} delivery={delivery} />
      ))}
    </p>
  );
}

export function RuleActions({ id, name }: { id: number; name: string }) {
  const router = useRouter();
  const [busy, setBusy] = useState<'test' | 'delete' | null>(null);
  const [result, setResult] = useState<Result | null>(null);

  async function sendTest() {
    setBusy('test');
    const outcome = await callAlertsApi<{ deliveries: Delivery[] }>(`/api/alerts/${id}/test`, 'POST');
    setBusy(null);
    setResult(outcome.ok ? { deliveries: outcome.body.deliveries } : { errors: outcome.errors });
  }

  async function remove() {
    if (!window.confirm(`Delete the alert rule "${name}" and its history?`)) return;
    setBusy('delete');
    const outcome = await callAlertsApi<null>(`/api/alerts/${id}`, 'DELETE');
    if (!outcome.ok) {
      setBusy(null);
      setResult({ errors: outcome.errors });
      return;
    }
    router.push('/alerts');
    router.refresh();
  }

  return (
    <div className={styles.actions}>
      <button type="button" onClick={sendTest} disabled={busy !== null}>
        {busy === 'test' ? 'Sending…' : 'Send test notification'}
      </button>
      <button type="button" className="danger" onClick={remove} disabled={busy !== null}>
        {busy === 'delete' ? 'Deleting…' : 'Delete rule'}
      </button>
      {result ? <ResultList result={result} /> : null}
    </div>
  );
}
