'use client';

import { useActionState } from 'react';
import { createKeyAction, type CreateKeyState } from './actions';

export function CreateKeyForm() {
  const [state, action, pending] = useActionState<CreateKeyState, FormData>(createKeyAction, {});
  return (
    <form action={action} className="login-form" data-testid="create-key">
      <label>
        Name
        <input name="name" required maxLength={100} placeholder="checkout-service (production)" />
      </label>
      <button type="submit" disabled={pending}>
        {pending ? 'Creating…' : 'Create key'}
      </button>
      {state.error ? (
        <p className="form-error" role="alert">
          {state.error}
        </p>
      ) : null}
      {state.key ? (
        <div role="status" data-testid="new-key">
          <p>
            Key for <strong>{state.name}</strong> — copy it now, it is not shown again:
          </p>
          <pre className="code">{state.key}</pre>
          <pre className="code">{`OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer ${state.key}"`}</pre>
        </div>
      ) : null}
    </form>
  );
}
