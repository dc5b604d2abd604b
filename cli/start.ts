/*
 * `streamscope start`: the one-process default. Collector and dashboard share one store
 * (embedded PGlite unless DATABASE_URL is set), migrated before anything listens.
 */
import { ensureAdminCredential } from '../lib/auth/credential';
import { migrateStore } from '../db/migrate';
import { sharedStore, type Store } from '../db/client';
import { startCollectorServices } from './collector-services';
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

export const listenHost = () => process.env.STREAMSCOPE_HOST ?? '127.0.0.1';

export async function openMigratedStore(): Promise<Store> {
  const store = await sharedStore();
  console.log(`• database: ${store.driver} at ${store.location}`);
  await migrateStore(store);
  return store;
}

export async function startStreamscope(): Promise<RunningStreamscope> {
  const host = listenHost();
  await ensureDashboardBuilt();
  const store = await openMigratedStore();
  const admin = await ensureAdminCredential();
  const services = await startCollectorServices(store, host);
  const dashboard = await startDashboard({ host, port: envNumber('STREAMSCOPE_PORT', 3000) });
  return {
    store,
    collectorUrl: services.collector.url,
    dashboardUrl: dashboard.url,
    generatedPassword: admin.generatedPassword,
    credentialFile: admin.file,
    async stop() {
      await services.stop();
      await dashboard.close();
      await store.close();
    },
  };
}

export function printCollectorUrl(url: string): void {
  console.log(`• OTLP/HTTP collector: ${url}/v1/traces`);
}

export function printLogin(running: RunningStreamscope): void {
  console.log(`• dashboard:           ${running.dashboardUrl}`);
  if (running.generatedPassword) {
    console.log(`• login: admin / ${running.generatedPassword}   (generated once; stored hashed in ${running.credentialFile};`);
    console.log('         set STREAMSCOPE_ADMIN_PASSWORD to choose your own)');
  } else {
    console.log(`• login: admin / the password set at first start (STREAMSCOPE_ADMIN_PASSWORD, or delete ${running.credentialFile} to generate a new one)`);
  }
}

export async function startCommand(): Promise<void> {
  const running = await startStreamscope();
  printCollectorUrl(running.collectorUrl);
  printLogin(running);
  console.log('• Ctrl-C to stop');
  onShutdown(running.stop);
}
