/** A rule's state changes, newest first, with the value seen and where each notification went. */
import type { EventView, RuleView } from '@/alerts';
import { DeliveryOutcome } from './delivery-outcome';
import { readingText } from '@/alerts/rule';
import { formatTime, StateBadge } from './rule-summary';

export function HistoryTable({ rule, events }: { rule: RuleView; events: EventView[] }) {
  return (
    <div className="card table-card">
      <table className="table" data-testid="alert-history">
        <caption>History</caption>
        <thead>
          <tr>
            <th>At</th>
            <th>Change</th>
            <th className="num">Value</th>
            <th>Notifications</th>
          </tr>
        </thead>
        <tbody>
          {events.length === 0 ? (
            <tr>
              <td colSpan={4} className="muted">
                No state changes yet. The collector evaluates every rule each STREAMSCOPE_ALERT_INTERVAL_SECONDS (30 s by default) and lists each change of state here.
              </td>
            </tr>
          ) : (
            events.map((event) => (
              <tr key={event.id}>
                <td className="nowrap">{formatTime(event.at)}</td>
                <td className="nowrap">
                  <StateBadge state={event.fromState} /> → <StateBadge state={event.toState} />
                </td>
                <td className="num nowrap">{readingText(rule, event.value, event.responses)}</td>
                <td>
                  {event.deliveries.length === 0 ? (
                    <span className="muted">—</span>
                  ) : (
                    event.deliveries.map((delivery, i) => (
                      <div key={i}>
                        <DeliveryOutcome delivery={delivery} />
                      </div>
                    ))
                  )}
                </td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
