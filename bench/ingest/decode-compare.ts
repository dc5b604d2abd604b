/*
 * The protobuf decoders side by side: captured 512-span bodies prepared (decoded and
 * translated, as a collector's decode thread does) by the wire reader and by protobufjs's
 * reflection decoder, in alternating rounds on one thread with the decode threads' heap
 * settings, so that both meet the same machine. Figures are CPU milliseconds per request
 * (the process does nothing else meanwhile, and garbage collection counts).
 */
import { Worker } from 'node:worker_threads';
import { decodeTraceRequest, type ProtobufDecoder } from '../../collector/otlp/decode';
import { YOUNG_GENERATION_MB } from '../../collector/prepare-pool';
import { translateSpans } from '../../collector/translate';
import { round } from '../support/report';

export interface DecoderRound {
  reader: number;
  reflection: number;
}

export interface DecoderComparison {
  cpuMsPerRequest: DecoderRound;
  rounds: DecoderRound[];
}

interface Task {
  bodies: Uint8Array[];
  rounds: number;
  requestsPerRound: number;
}

const DECODERS: readonly ProtobufDecoder[] = ['reader', 'reflection'];

/** Runs the comparison on a thread of its own, as the collector decodes. */
export async function compareDecoders(task: Task): Promise<DecoderComparison> {
  const worker = new Worker(new URL('./decode-thread.mjs', import.meta.url), {
    workerData: task,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  });
  try {
    return await new Promise<DecoderComparison>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** The thread's side: alternating rounds of each decoder over the same bodies. */
export function measureDecoders({ bodies, rounds, requestsPerRound }: Task): DecoderComparison {
  const prepare = (body: Uint8Array, decoder: ProtobufDecoder) => translateSpans(decodeTraceRequest(body, 'protobuf', Date.now(), decoder).spans);
  for (const decoder of DECODERS) for (const body of bodies) prepare(body, decoder);
  const results: DecoderRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const result = { reader: 0, reflection: 0 };
    for (const decoder of DECODERS) {
      const started = cpuMs();
      for (let i = 0; i < requestsPerRound; i++) prepare(bodies[i % bodies.length], decoder);
      result[decoder] = round((cpuMs() - started) / requestsPerRound, 2) ?? 0;
    }
    results.push(result);
  }
  const mean = (decoder: ProtobufDecoder) => round(results.reduce((total, r) => total + r[decoder], 0) / results.length, 2) ?? 0;
  return { cpuMsPerRequest: { reader: mean('reader'), reflection: mean('reflection') }, rounds: results };
}
