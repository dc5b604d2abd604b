/*
 * `streamscope bench --smoke`: a short WebSocket vs SSE run through the delay proxy, read back
 * from a temporary store, ends with one JSON line carrying both transports' figures.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from '../process';

interface LaneFigures {
  responses: number;
  ttftP50Ms: number | null;
  ttftP99Ms: number | null;
  endToEndP50Ms: number | null;
  endToEndP99Ms: number | null;
  responsesPerSecond: number | null;
  bytesPerResponse: number | null;
  handshakeMsPerResponse: number | null;
  responsesPerConnection: number | null;
  clientErrors: number | null;
}

interface BenchResult {
  settings: { rttMs: number };
  transports: Record<string, LaneFigures>;
  differencePercent: Record<string, Record<string, number | null>>;
}

let result: BenchResult;
let stdout: string;

before(async () => {
  const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bin/streamscope.ts'), 'bench', '--smoke', '--rtt', '50'], {
    cwd: repoRoot,
    // A temporary PGlite store, whatever the environment points at.
    env: { ...process.env, DATABASE_URL: '' },
    timeout: 120_000,
  });
  stdout = run.stdout;
  result = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as BenchResult;
});

test('the smoke run ends with a JSON line holding both transports and their differences', () => {
  assert.equal(result.settings.rttMs, 50);
  assert.deepEqual(Object.keys(result.transports), ['websocket', 'sse']);
  for (const [transport, figures] of Object.entries(result.transports)) {
    assert.ok(figures.responses > 0, `${transport}: responses stored`);
    assert.equal(figures.clientErrors, 0, `${transport}: client errors\n${stdout}`);
    for (const name of ['ttftP50Ms', 'ttftP99Ms', 'endToEndP50Ms', 'endToEndP99Ms', 'responsesPerSecond', 'bytesPerResponse'] as const) {
      assert.ok(typeof figures[name] === 'number' && figures[name] > 0, `${transport}.${name} = ${figures[name]}`);
    }
  }
  assert.ok('ttftP50Ms' in result.differencePercent['websocket vs sse']);
  assert.match(stdout, /TTFT p50 \(ms\)/, 'a table precedes the JSON line');
});

test('a persistent WebSocket carries several responses per connection, SSE one', () => {
  assert.ok(result.transports.websocket.responsesPerConnection! > 1);
  assert.equal(result.transports.sse.responsesPerConnection, 1);
});

test(
  'at 50 ms RTT a WebSocket response pays less handshake than an SSE response on a new connection',
  () => {
    const { websocket, sse } = result.transports;
    assert.ok(websocket.handshakeMsPerResponse !== null && sse.handshakeMsPerResponse !== null);
    assert.ok(websocket.handshakeMsPerResponse < sse.handshakeMsPerResponse, `websocket ${websocket.handshakeMsPerResponse} ms, sse ${sse.handshakeMsPerResponse} ms`);
  },
);
