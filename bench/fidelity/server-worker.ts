/*
 * The mock model server on its own thread, so its timers and writes do not share an event
 * loop with the client being measured. Reports what it sent in wall-clock milliseconds
 * (timeOrigin + now), comparable across threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { makeSchedule, MockModelServer, type TokenSchedule } from '../../instrumentation/test/utils/mock-model-server.ts';

export interface FidelityServerOptions {
  seed: number;
  tokens: number;
  ttftRangeMs: [number, number];
  gapRangeMs: [number, number];
}

export interface SentRecord {
  id: string;
  schedule: TokenSchedule;
  receivedAtWall: number;
  tokenSentAtWall: number[];
}

const options = workerData as FidelityServerOptions;
const scheduleFor = (index: number) => makeSchedule(options.seed + index, options.tokens, options.ttftRangeMs, options.gapRangeMs);
const server = await new MockModelServer({ schedule: scheduleFor }).listen();
const wall = (t: number) => performance.timeOrigin + t;

parentPort!.on('message', async (message: string) => {
  if (message === 'report') {
    const sent: SentRecord[] = server.sent.map((s, index) => ({
      id: s.id,
      schedule: scheduleFor(index),
      receivedAtWall: wall(s.receivedAt),
      tokenSentAtWall: s.tokenSentAt.map(wall),
    }));
    parentPort!.postMessage(sent);
  } else if (message === 'close') {
    await server.close();
    parentPort!.close();
  }
});
parentPort!.postMessage(server.port);
