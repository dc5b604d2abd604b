/*
 * `streamscope collector`: the collector alone, for running several replicas against one
 * PostgreSQL (DATABASE_URL). Without DATABASE_URL it uses PGlite, which only one process
 * may open: then use `start` instead.
 */
import { startCollectorServices } from './collector-services';
import { onShutdown } from './process';
import { listenHost, openMigratedStore, printCollectorUrl } from './start';

export async function collectorCommand(): Promise<void> {
  const store = await openMigratedStore();
  const services = await startCollectorServices(store, listenHost());
  printCollectorUrl(services.collector.url);
  onShutdown(async () => {
    await services.stop();
    await store.close();
  });
}
