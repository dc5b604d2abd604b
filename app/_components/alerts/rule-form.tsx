'use client';

/*
 * Create or edit a rule. The server validates (the same validateRule as the API and the
 * rules file), and each refusal is shown under the field it names.
 */
import { useRouter } from 'next/navigation';
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import type { RuleView } from '@/alerts';
import { COMPARISONS, METRIC_SPECS, METRICS, takesMinResponses, TRANSPORTS, WEBHOOK_FORMATS, type FieldError, type Metric, type WebhookFormat } from '@/alerts/rule';
import { transportName } from '@/lib/ui/format';
import styles from './alerts.module.css';
import { callAlertsApi } from './request';

interface Draft {
  name: string;
  metric: Metric;
  statistic: string;
  comparison: string;
  threshold: string;
  window: string;
  pending: string;
  minResponses: string;
  filters: { service: string; model: string; transport: string };
  webhooks: { url: string; format: WebhookFormat }[];
  enabled: boolean;
}

const NEW_RULE: Draft = {
  name: '',
  metric: 'ttft',
  statistic: 'p99',
  comparison: '>',
  threshold: '',
  window: '5m',
  pending: '1m',
  minResponses: '',
  filters: { service: '', model: '', transport: '' },
  webhooks: [],
  enabled: true,
};

function draftOf(rule: RuleView): Draft {
  return {
    name: rule.name,
    metric: rule.metric,
    statistic: rule.statistic,
    comparison: rule.comparison,
    threshold: String(rule.threshold),
    window: rule.window,
    pending: rule.pending,
    minResponses: rule.minResponses ? String(rule.minResponses) : '',
    filters: { service: rule.filters?.service ?? '', model: rule.filters?.model ?? '', transport: rule.filters?.transport ?? '' },
    webhooks: (rule.webhooks ?? []).map((w) => (typeof w === 'string' ? { url: w, format: 'json' } : { url: w.url, format: w.format ?? 'json' })),
    enabled: rule.enabled ?? true,
  };
}

/** Fields with an input of their own; errors naming any other field are shown above the form. */
const FIELDS = ['name', 'metric', 'statistic', 'comparison', 'threshold', 'unit', 'window', 'pending', 'minResponses', 'filters.service', 'filters.model', 'filters.transport', 'webhooks'];

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * The draft as the API takes it. The minimum goes as a number when it is one (empty: none),
 * and as typed otherwise, for the server to name what is wrong with it.
 */
function bodyOf(draft: Draft) {
  const typed = draft.minResponses.trim();
  const minResponses = !takesMinResponses(draft.metric) || typed === '' ? 0 : /^\d+$/.test(typed) ? Number(typed) : typed;
  return { ...draft, minResponses };
}

interface Control {
  id: string;
  'aria-invalid': boolean;
  'aria-describedby'?: string;
}

function Messages({ id, fields, errors }: { id?: string; fields: string[]; errors: FieldError[] }) {
  const messages = errors.filter((error) => fields.includes(error.field));
  if (messages.length === 0) return null;
  return (
    <p id={id} className="form-error">
      {messages.map((error) => capitalised(error.message)).join('. ')}
    </p>
  );
}

function Field(props: { label: string; fields: string[]; errors: FieldError[]; hint?: ReactNode; wide?: boolean; children: (control: Control) => ReactNode }) {
  const id = useId();
  const errorId = `${id}-error`;
  const invalid = props.errors.some((error) => props.fields.includes(error.field));
  return (
    <div className={`${styles.field} ${props.wide ? styles.wide : ''}`} data-field={props.fields[0]}>
      <label htmlFor={id}>{props.label}</label>
      {props.children({ id, 'aria-invalid': invalid, 'aria-describedby': invalid ? errorId : undefined })}
      {props.hint ? <span className={styles.hint}>{props.hint}</span> : null}
      <Messages id={errorId} fields={props.fields} errors={props.errors} />
    </div>
  );
}

function Select(props: { control: Control; value: string; options: readonly string[]; label?: (option: string) => string; onChange: (value: string) => void }) {
  const label = props.label ?? ((option: string) => option);
  return (
    <select {...props.control} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
      {props.options.map((option) => (
        <option key={option} value={option}>
          {label(option)}
        </option>
      ))}
    </select>
  );
}

export function RuleForm({ rule, suggestions }: { rule?: RuleView; suggestions: Record<'service' | 'model', string[]> }) {
  const router = useRouter();
  const [draft, setDraft] = useState<Draft>(() => (rule ? draftOf(rule) : NEW_RULE));
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const spec = METRIC_SPECS[draft.metric];

  const update = (change: Partial<Draft>) => {
    setDraft((current) => ({ ...current, ...change }));
    setSaved(false);
  };
  const updateFilter = (key: keyof Draft['filters'], value: string) => update({ filters: { ...draft.filters, [key]: value } });
  const updateWebhook = (index: number, change: Partial<Draft['webhooks'][number]>) =>
    update({ webhooks: draft.webhooks.map((webhook, i) => (i === index ? { ...webhook, ...change } : webhook)) });
  const changeMetric = (metric: Metric) => {
    const statistics: readonly string[] = METRIC_SPECS[metric].statistics;
    update({ metric, statistic: statistics.includes(draft.statistic) ? draft.statistic : statistics[0] });
  };

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSaving(true);
    const outcome = await callAlertsApi<{ rule: RuleView }>(rule ? `/api/alerts/${rule.id}` : '/api/alerts', rule ? 'PATCH' : 'POST', bodyOf(draft));
    setSaving(false);
    setErrors(outcome.ok ? [] : outcome.errors);
    if (!outcome.ok) return;
    if (rule) {
      // Shows the rule as stored: "0.3s" comes back as 300 (ms).
      setDraft(draftOf(outcome.body.rule));
      setSaved(true);
      router.refresh();
    } else {
      router.push(`/alerts/${outcome.body.rule.id}`);
    }
  }

  const webhookFields = draft.webhooks.flatMap((_, i) => [`webhooks[${i}].url`, `webhooks[${i}].format`]);
  const general = errors.filter((error) => !FIELDS.includes(error.field) && !webhookFields.includes(error.field));

  return (
    <form className={styles.form} onSubmit={submit} noValidate aria-label={rule ? 'Edit alert rule' : 'New alert rule'}>
      {general.length > 0 ? (
        <ul className="form-error" role="alert">
          {general.map((error) => (
            <li key={`${error.field}:${error.message}`}>{error.field ? `${error.field}: ${error.message}` : error.message}</li>
          ))}
        </ul>
      ) : null}

      <fieldset className={styles.fieldset}>
        <legend>Condition</legend>
        <Field label="Name" fields={['name']} errors={errors} wide>
          {(control) => <input {...control} value={draft.name} onChange={(e) => update({ name: e.target.value })} placeholder="websocket ttft p99" />}
        </Field>
        <Field label="Metric" fields={['metric']} errors={errors}>
          {(control) => (
            <Select control={control} value={draft.metric} options={METRICS} label={(metric) => METRIC_SPECS[metric as Metric].label} onChange={(metric) => changeMetric(metric as Metric)} />
          )}
        </Field>
        <Field label="Statistic" fields={['statistic']} errors={errors}>
          {(control) => <Select control={control} value={draft.statistic} options={spec.statistics} onChange={(statistic) => update({ statistic })} />}
        </Field>
        <Field label="Comparison" fields={['comparison']} errors={errors}>
          {(control) => <Select control={control} value={draft.comparison} options={COMPARISONS} onChange={(comparison) => update({ comparison })} />}
        </Field>
        <Field label="Threshold" fields={['threshold', 'unit']} errors={errors} hint={spec.unit === 'ms' ? 'in ms, or seconds as "0.3s"' : undefined}>
          {(control) => (
            <span className={styles.withUnit}>
              <input {...control} inputMode="decimal" value={draft.threshold} onChange={(e) => update({ threshold: e.target.value })} />
              <span className="unit">{spec.unit}</span>
            </span>
          )}
        </Field>
        <Field label="Window" fields={['window']} errors={errors} hint="at least 1m, e.g. 5m">
          {(control) => <input {...control} value={draft.window} onChange={(e) => update({ window: e.target.value })} />}
        </Field>
        <Field label="Pending for" fields={['pending']} errors={errors} hint="how long a breach lasts before it fires; 0s fires at once">
          {(control) => <input {...control} value={draft.pending} onChange={(e) => update({ pending: e.target.value })} />}
        </Field>
        {takesMinResponses(draft.metric) ? (
          <Field label="Minimum responses" fields={['minResponses']} errors={errors} hint="fewer in the window give no value: a p99 of three responses is noise; empty: any">
            {(control) => <input {...control} inputMode="numeric" value={draft.minResponses} onChange={(e) => update({ minResponses: e.target.value })} />}
          </Field>
        ) : null}
      </fieldset>

      <fieldset className={styles.fieldset}>
        <legend>Only traffic from</legend>
        {(['service', 'model'] as const).map((key) => (
          <Field key={key} label={capitalised(key)} fields={[`filters.${key}`]} errors={errors} hint={`empty: every ${key}`}>
            {(control) => (
              <>
                <input {...control} list={`${control.id}-seen`} value={draft.filters[key]} onChange={(e) => updateFilter(key, e.target.value)} />
                <datalist id={`${control.id}-seen`}>
                  {suggestions[key].map((value) => (
                    <option key={value} value={value} />
                  ))}
                </datalist>
              </>
            )}
          </Field>
        ))}
        <Field label="Transport" fields={['filters.transport']} errors={errors}>
          {(control) => (
            <Select
              control={control}
              value={draft.filters.transport}
              options={['', ...TRANSPORTS]}
              label={(transport) => (transport ? transportName(transport) : 'every transport')}
              onChange={(transport) => updateFilter('transport', transport)}
            />
          )}
        </Field>
      </fieldset>

      <fieldset className={styles.fieldset}>
        <legend>Notify</legend>
        {draft.webhooks.map((webhook, i) => (
          <div key={i} className={`${styles.webhook} ${styles.wide}`}>
            <Field label={`Webhook ${i + 1} URL`} fields={[`webhooks[${i}].url`]} errors={errors}>
              {(control) => <input {...control} type="url" value={webhook.url} onChange={(e) => updateWebhook(i, { url: e.target.value })} placeholder="https://" />}
            </Field>
            <Field label="Body" fields={[`webhooks[${i}].format`]} errors={errors}>
              {(control) => (
                <Select
                  control={control}
                  value={webhook.format}
                  options={WEBHOOK_FORMATS}
                  label={(format) => (format === 'slack' ? 'Slack' : 'JSON')}
                  onChange={(format) => updateWebhook(i, { format: format as WebhookFormat })}
                />
              )}
            </Field>
            <button type="button" className="link-button" onClick={() => update({ webhooks: draft.webhooks.filter((_, j) => j !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <div className={`${styles.field} ${styles.wide}`} data-field="webhooks">
          <span className={styles.check}>
            <button type="button" onClick={() => update({ webhooks: [...draft.webhooks, { url: '', format: 'json' }] })}>
              Add a webhook
            </button>
            <span className={styles.hint}>POSTed as JSON or a Slack message when the rule fires and when it resolves</span>
          </span>
          <Messages fields={['webhooks']} errors={errors} />
        </div>
      </fieldset>

      <label className={styles.check}>
        <input type="checkbox" checked={draft.enabled} onChange={(e) => update({ enabled: e.target.checked })} />
        Enabled (a disabled rule is not evaluated)
      </label>

      <div className={styles.submitRow}>
        <button type="submit" disabled={saving}>
          {saving ? 'Saving…' : rule ? 'Save changes' : 'Create rule'}
        </button>
        <span role="status" className="muted">
          {saved ? 'Saved.' : ''}
        </span>
      </div>
    </form>
  );
}
