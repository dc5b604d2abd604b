/*
 * What a collector process runs besides the OTLP receiver: partition maintenance and
 * retention (STREAMSCOPE_RETENTION_RAW_DAYS / _ROLLUP_DAYS), and the alert evaluator (one
 * leader among several collectors on one Postgres). Shared by `start` (one process with
 * the dashboard) and `collector` (standalone, many replicas on one Postgres).
 */
import { startAlertEvaluator } from '../alerts/index';
import { startCollector, type Collector } from '../collector/index';
import type { Store } from '../db/client';
import { startPartitionMaintenance } from '../db/partitions';
import { envNumber } from './process';

export interface CollectorServices {
  collector: Collector;
  stop(): Promise<void>;
}

export async function startCollectorServices(store: Store, host: string): Promise<CollectorServices> {
  const partitions = startPartitionMaintenance({ store });
  // Today's partitions exist before the first span is accepted.
  await partitions.ready;
  const collector = await startCollector({ store, host, port: envNumber('STREAMSCOPE_OTLP_PORT', 4318) });
  const evaluator = startAlertEvaluator({
    store,
    onError: (error) => console.error('alert evaluation failed:', error instanceof Error ? error.message : error),
  });
  return {
    collector,
    async stop() {
      await evaluator.stop();
      await collector.close();
      await partitions.stop();
    },
  };
}
