/*
 * What a collector process runs besides the OTLP receiver: the alert evaluator (one
 * leader among several collectors on one Postgres). Shared by `start` (one process with
 * the dashboard) and `collector` (standalone, many replicas on one Postgres).
 */
import { startAlertEvaluator } from '../alerts/index';
import { startCollector, type Collector } from '../collector/index';
import type { Store } from '../db/client';
import { envNumber } from './process';

export interface CollectorServices {
  collector: Collector;
  stop(): Promise<void>;
}

export async function startCollectorServices(store: Store, host: string): Promise<CollectorServices> {
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
    },
  };
}
