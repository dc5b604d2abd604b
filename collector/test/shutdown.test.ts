/*
 * Stopping the collector while exporters keep sending: close() ends although every
 * kept-alive connection is busy with back-to-back exports, and what was acknowledged
 * before it is stored once; a client that never finishes its request cannot hold it either.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { test } from 'node:test';
import { describeEachDatabase } from '../../test/support/databases';
import { checkStoredIn, LOAD_WAIT_MS, startLoad, until } from '../../test/reliability/support/load';
import { startCollector, type Collector } from '../index';

const SERVICE = 'shutdown-app';
/** Far longer than a close that works takes; without it a close that waits forever would hang the run. */
const CLOSE_DEADLINE_MS = 30_000;

async function assertCloses(collector: Collector, situation: string): Promise<void> {
  let deadline: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    collector.close().then(() => 'closed'),
    new Promise((resolve) => (deadline = setTimeout(resolve, CLOSE_DEADLINE_MS, 'still open'))),
  ]);
  clearTimeout(deadline);
  assert.equal(outcome, 'closed', `close() had not finished ${CLOSE_DEADLINE_MS} ms after it was called, ${situation}`);
}

describeEachDatabase('collector shutdown', (database) => {
  test('close() under steady load from kept-alive exporters ends, and every acknowledged span is stored once', async () => {
    const store = database().store;
    const collector = await startCollector({ store, port: 0 });
    const load = startLoad({ url: `${collector.url}/v1/traces`, service: SERVICE, workers: 4, spansPerExport: 20, timeoutMillis: 2000 });
    try {
      await until(() => load.acknowledgedCount() >= 200, LOAD_WAIT_MS, 'the load to get going');
      await assertCloses(collector, 'with exporters still sending');
    } finally {
      const result = await load.stop();
      const stored = await checkStoredIn(store, SERVICE, result.acknowledged);
      assert.equal(stored.lost, 0);
      assert.equal(stored.duplicates, 0);
    }
  });

  test('close() ends when a client never finishes sending its request, after shutdownTimeoutMs', async () => {
    const collector = await startCollector({ store: database().store, port: 0, shutdownTimeoutMs: 200 });
    const socket = connect(collector.port, '127.0.0.1');
    await once(socket, 'connect');
    const socketClosed = once(socket, 'close');
    // A body announced at 1000 bytes, of which 10 ever arrive.
    socket.write('POST /v1/traces HTTP/1.1\r\nHost: collector\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n0123456789');
    // In flight, not idle: the collector is reading its body.
    await until(() => collector.stats.exportRequests > 0, LOAD_WAIT_MS, 'the request to reach the collector');
    await assertCloses(collector, 'with a request half sent');
    await socketClosed;
  });
});
