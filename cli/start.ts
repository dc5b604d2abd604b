/*
 * `streamscope start`: the one-process default. Collector and dashboard share one store
 * (embedded PGlite unless DATABASE_URL is set), migrated before anything listens.
 */
import { migrateStore } from '../db/migrate';
import { sharedStore, type Store } from '../db/client';
import { startCollector } from '../collector/index';
import { ensureAdminCredential } from '../lib/auth/credential';
import { ensureDashboardBuilt, startDashboard } from './dashboard-server';
import { envNumber, onShutdown } from './process';

export interface RunningStreamscope {
  store: Store;
  collectorUrl: string;
  dashboardUrl: string;
  /** The admin password when this start generated it (print it once), else undefined. */
  generatedPassword?: string;
  credentialFile: string;
  stop(): Promise<void>;
}

export async function startStreamscope(): Promise<RunningStreamscope> {
  const host = process.env.STREAMSCOPE_HOST ?? '127.0.0.1';
  await ensureDashboardBuilt();
  const store = await sharedStore();
  console.log(`• database: ${store.driver} at ${store.location}`);
  await migrateStore(store);
  const admin = await ensureAdminCredential();
  const collector = await startCollector({ store, host, port: envNumber('STREAMSCOPE_OTLP_PORT', 4318) });
  const dashboard = await startDashboard({ host, port: envNumber('STREAMSCOPE_PORT', 3000) });
  return {
    store,
    collectorUrl: collector.url,
    dashboardUrl: dashboard.url,
    generatedPassword: admin.generatedPassword,
    credentialFile: admin.file,
    async stop() {
      await collector.close();
      await dashboard.close();
      await store.close();
    },
  };
}

export async function startCommand(): Promise<void> {
  const running = await startStreamscope();
  console.log(`• OTLP/HTTP collector: ${running.collectorUrl}/v1/traces`);
  console.log(`• dashboard:           ${running.dashboardUrl}`);
  if (running.generatedPassword) {
    console.log(`• login: admin / ${running.generatedPassword}   (generated once; stored hashed in ${running.credentialFile};`);
    console.log('         set STREAMSCOPE_ADMIN_PASSWORD to choose your own)');
  } else {
    console.log(`• login: admin / the password set at first start (STREAMSCOPE_ADMIN_PASSWORD, or delete ${running.credentialFile} to generate a new one)`);
  }
  console.log('• Ctrl-C to stop');
  onShutdown(running.stop);
}
