import { sharedStore } from '@/db/client';
import { listApiKeys, type ApiKeyInfo } from '@/lib/api-keys';
import { CreateKeyForm } from './create-key-form';
import { RevokeKeyButton } from './revoke-key-button';

export const dynamic = 'force-dynamic';

const when = (date: Date | null) => (date ? date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '—');

function KeysTable({ keys }: { keys: ApiKeyInfo[] }) {
  return (
    <div className="card table-card">
      <table className="table" data-testid="keys-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Key</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id}>
              <td>{key.name}</td>
              <td>
                <code>{key.prefix}…</code>
              </td>
              <td>{when(key.createdAt)}</td>
              <td>{when(key.lastUsedAt)}</td>
              <td>
                {key.revokedAt ? (
                  `revoked ${when(key.revokedAt)}`
                ) : (
                  <RevokeKeyButton id={key.id} name={key.name} />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default async function KeysPage() {
  const keys = await listApiKeys(await sharedStore());
  return (
    <>
      <section className="view-header">
        <div className="view-title">
          <h1>Ingest API keys</h1>
          <p className="muted">
            {keys.length === 0
              ? 'Ingest is open: any application that reaches the collector can send spans. Once a key exists, every export needs one.'
              : 'Exports need a valid key, sent as the header Authorization: Bearer <key> (or x-api-key). Revoked keys stop working within seconds.'}
          </p>
        </div>
      </section>
      <section className="card section">
        <CreateKeyForm />
      </section>
      {keys.length > 0 ? <KeysTable keys={keys} /> : null}
    </>
  );
}
