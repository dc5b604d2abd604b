'use client';

import type { FormEvent } from 'react';
import { revokeKeyAction } from './actions';

/** Revoking cannot be undone and stops the key's exports within seconds, so it is confirmed first. */
export function RevokeKeyButton({ id, name }: { id: number; name: string }) {
  const confirmRevoke = (event: FormEvent<HTMLFormElement>) => {
    if (!window.confirm(`Revoke the key "${name}"? Exports sending it are refused within seconds; this cannot be undone.`)) event.preventDefault();
  };
  return (
    <form action={revokeKeyAction} onSubmit={confirmRevoke}>
      <input type="hidden" name="id" value={id} />
      <button type="submit" className="danger">
        Revoke
      </button>
    </form>
  );
}
