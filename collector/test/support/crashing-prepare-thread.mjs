/*
 * A prepare-pool thread that dies, as one running out of memory would, when a body reads
 * "crash"; any other body it prepares as the collector's own threads do.
 */
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { parentPort } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { answer } = await tsImport('../../prepare-worker.ts', import.meta.url);
parentPort.on('message', (task) => {
  if (Buffer.from(task.body).toString() === 'crash') process.exit(3);
  parentPort.postMessage(answer(task));
});
