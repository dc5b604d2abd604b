/*
 * Entry of the decoder comparison's thread (decode-compare.ts). Node 20 does not apply the
 * main thread's TypeScript loader to worker threads, so the thread loads it through tsx.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { measureDecoders } = await tsImport('./decode-compare.ts', import.meta.url);
parentPort.postMessage(measureDecoders(workerData));
