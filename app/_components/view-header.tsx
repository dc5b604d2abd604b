import type { ReactNode } from 'react';
import type { Dashboard } from '../_lib/dashboard';
import { Toolbar } from './toolbar';

interface ViewHeaderProps {
  title: string;
  subtitle?: ReactNode;
  dashboard: Dashboard;
  dimensions?: readonly ('service' | 'model' | 'transport')[];
}

export function ViewHeader({ title, subtitle, dashboard, dimensions = ['service', 'model', 'transport'] }: ViewHeaderProps) {
  const { view, options } = dashboard;
  return (
    <section className="view-header">
      <div className="view-title">
        <h1>{title}</h1>
        {subtitle ? <p className="muted">{subtitle}</p> : null}
      </div>
      <Toolbar
        range={view.range}
        from={view.filter.from.getTime()}
        to={view.filter.to.getTime()}
        refresh={view.refresh}
        options={options}
        dimensions={dimensions}
      />
    </section>
  );
}
