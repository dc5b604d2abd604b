'use client';

/** The loading and error states every dashboard route shares (re-exported by each route's files). */
import { useEffect } from 'react';

export function LoadingView() {
  return (
    <div className="loading" aria-busy="true">
      <div className="skeleton skeleton-title" />
      <div className="tiles">
        {Array.from({ length: 4 }, (_, i) => (
          <div key={i} className="card tile skeleton" />
        ))}
      </div>
      <div className="chart-grid">
        {Array.from({ length: 2 }, (_, i) => (
          <div key={i} className="card skeleton skeleton-chart" />
        ))}
      </div>
    </div>
  );
}

export function ErrorView({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <div className="empty error" role="alert">
      <h2>This view could not be loaded</h2>
      <p>
        {error.digest ? `The server logged the cause (digest ${error.digest}).` : error.message} Check that the database is reachable, then
        try again.
      </p>
      <button type="button" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
