/*
 * Entry of a prepare-pool thread. Node 20 does not apply the main thread's TypeScript
 * loader to worker threads, so the thread loads its TypeScript module through tsx itself
 * (and listens only then: a message that arrives before a listener exists is kept).
 */
import { parentPort } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { answer } = await tsImport('./prepare-worker.ts', import.meta.url);
parentPort.on('message', (task) => parentPort.postMessage(answer(task)));
