/*
 * A second collector process for the two-collector phase of bench/ingest: its own store
 * (connection pool) on the same database, as a replica behind a load balancer would be.
 * Says { url } once listening; closes and exits when the orchestrator disconnects.
 */
import { startCollector } from '../../collector';
import { openStore } from '../../db/client';

const store = await openStore({ databaseUrl: process.argv[2], maxConnections: 8 });
const collector = await startCollector({ store, port: 0 });
process.send!({ url: collector.url });
process.once('disconnect', () => {
  void collector.close().then(() => store.close());
});
