/** One webhook delivery as a line of text: where it went and how it ended. */
import type { Delivery } from '@/alerts';

/** Only the host: a webhook's path is often its secret (a Slack URL is its own credential). */
function destination(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export function DeliveryOutcome({ delivery }: { delivery: Delivery }) {
  const attempts = `${delivery.attempts} attempt${delivery.attempts === 1 ? '' : 's'}`;
  return (
    <span className={delivery.ok ? 'status ok' : 'status error'}>
      {destination(delivery.url)}: {delivery.ok ? `delivered (HTTP ${delivery.status})` : `failed — ${delivery.error ?? `HTTP ${delivery.status}`}`}{' '}
      <span className="muted">({attempts})</span>
    </span>
  );
}
