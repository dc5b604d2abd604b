/*
 * The ingest workload, shared by the load client (child process) and the orchestrator
 * (which stores the same rows with COPY for the ceiling): request templates of 512
 * response spans, one service per request as an application process would send them.
 */
import { RequestTemplate } from '../support/otlp';
import { SERVICES, syntheticResponse } from '../support/workload';

export const SPANS_PER_REQUEST = 512;
/** Distinct bodies cycled through, so values vary from request to request. */
export const TEMPLATES = 6;

/** The seeded rows of template `t`; every template's spans come from one service. */
export function templateRows(t: number) {
  const service = SERVICES[t % SERVICES.length];
  return Array.from({ length: SPANS_PER_REQUEST }, (_, i) => ({ ...syntheticResponse(t * SPANS_PER_REQUEST + i, new Date(), 7), service }));
}

export async function captureTemplates(count = TEMPLATES): Promise<RequestTemplate[]> {
  const templates: RequestTemplate[] = [];
  for (let t = 0; t < count; t++) templates.push(await RequestTemplate.capture(templateRows(t), SERVICES[t % SERVICES.length], t));
  return templates;
}

/** Messages between the orchestrator and the load client. */
export type ClientCommand =
  | {
      mode: 'replay';
      url: string;
      /** More collectors to spread requests over, round robin, as a load balancer would. */
      otherUrls?: string[];
      /** Every n-th request is also sent to the next collector after its ack: a retry whose ack was lost. */
      duplicateEvery?: number;
      run: number;
      warmupSeconds: number;
      seconds: number;
      concurrency: number;
    }
  | { mode: 'exporter'; url: string; warmupSeconds: number; seconds: number; concurrency: number };

export type ClientMessage =
  | { type: 'ready' }
  | { type: 'measuring' }
  | {
      type: 'done';
      requests: number;
      failures: number;
      latenciesMs: number[];
      bytesPerRequest: number;
      spansEmitted: number;
      /** Distinct spans sent, and acknowledged, over the whole run (warm-up included). */
      spansSent: number;
      spansAcknowledged: number;
    };
