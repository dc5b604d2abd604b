/*
 * The package as a user installs it: `npm pack` (which builds dist/ in prepack), the
 * tarball unpacked into a fresh project's node_modules, and a plain Node script — no
 * TypeScript loader — that registers the instrumentation the way the README shows and
 * streams one response over `ws`. Nothing is fetched: the package's declared dependencies
 * (and the app's own: the tracing SDK and ws) are linked from this repository's
 * node_modules, so an undeclared dependency or a missing file in the tarball fails here.
 * A TypeScript consumer checks that the published declarations resolve too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { API, ATTR_API, ATTR_KIND, GEN_AI, KIND, OUTCOME, RESPONSE } from '../src/contract.ts';
import { MOCK_MODEL, MockModelServer } from './utils/mock-model-server.ts';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
/** What the example app itself imports besides the package. */
const APP_DEPENDENCIES = ['@opentelemetry/sdk-trace-node', '@opentelemetry/instrumentation', 'ws'];

/** One streamed response over ws, then the finished spans on stdout; `WebSocket` and `exporter` are in scope. */
const STREAM_ONE = `
  const socket = new WebSocket(process.argv[2]);
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  socket.send(JSON.stringify({ type: 'response.create', model: '${MOCK_MODEL}', input: 'hello' }));
  await new Promise((resolve) => socket.on('message', (data) => { if (JSON.parse(String(data)).type === 'response.completed') resolve(); }));
  socket.close();
  await new Promise((resolve) => socket.once('close', resolve));
  const spans = exporter.getFinishedSpans().map((span) => ({ name: span.name, attributes: span.attributes }));
  console.log(JSON.stringify({ kindAttribute: ATTR_KIND, spans }));
`;

/** The README's setup with registerInstrumentations in an ES module app. */
const ESM_APP = `
import { createRequire } from 'node:module';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { StreamscopeInstrumentation } from '@streamscope/instrumentation';
import { ATTR_KIND } from '@streamscope/instrumentation/contract';

const exporter = new InMemorySpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
registerInstrumentations({ instrumentations: [new StreamscopeInstrumentation()] });

const WebSocket = createRequire(import.meta.url)('ws');
${STREAM_ONE}
`;

/**
 * The same in a CommonJS app, as a \`node -r ./tracing.js\` setup loads it: the package is
 * an ES module without top-level await, which require() loads on Node >= 20.19 and 22.12.
 */
const CJS_APP = `
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { StreamscopeInstrumentation } = require('@streamscope/instrumentation');
const { ATTR_KIND } = require('@streamscope/instrumentation/contract');

const exporter = new InMemorySpanExporter();
new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
registerInstrumentations({ instrumentations: [new StreamscopeInstrumentation()] });

const WebSocket = require('ws');
(async () => {
${STREAM_ONE}
})();
`;

/** Both entry points typed from the tarball's declarations. */
const CONSUMER = `
import { StreamscopeInstrumentation, type StreamscopeInstrumentationConfig } from '@streamscope/instrumentation';
import { RESPONSE } from '@streamscope/instrumentation/contract';
const config: StreamscopeInstrumentationConfig = { maxTokenOffsets: 16 };
export const instrumentation = new StreamscopeInstrumentation(config);
export const ttft: string = RESPONSE.TTFT_MS;
`;

let workDir: string;
let server: MockModelServer;

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'streamscope-package-'));
  server = await new MockModelServer().listen();
});

after(async () => {
  await server?.close();
  await rm(workDir, { recursive: true, force: true });
});

async function link(appModules: string, name: string): Promise<void> {
  const target = path.join(repoModules, name);
  assert.ok(existsSync(target), `${name} is not installed in the repository`);
  await mkdir(path.dirname(path.join(appModules, name)), { recursive: true });
  await symlink(target, path.join(appModules, name), 'dir');
}

test('the packed tarball runs under plain Node, imported and required, with registerInstrumentations and records a streamed ws response', async () => {
  const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', workDir], { cwd: packageDir });
  const [{ filename, files }] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
  const paths = files.map((f) => f.path);
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/contract.js', 'dist/contract.d.ts', 'README.md']) assert.ok(paths.includes(file), `${file} missing from the tarball`);
  assert.deepEqual(paths.filter((p) => !p.startsWith('dist/') && !['README.md', 'package.json'].includes(p)), [], 'only dist/, README and package.json are published');

  const app = path.join(workDir, 'app');
  const appModules = path.join(app, 'node_modules');
  const installed = path.join(appModules, '@streamscope', 'instrumentation');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', path.join(workDir, filename), '-C', installed, '--strip-components=1']);
  const manifest = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };
  const needed = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies), ...APP_DEPENDENCIES, '@types/node']);
  for (const name of needed) await link(appModules, name);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await writeFile(path.join(app, 'main.js'), ESM_APP);
  await writeFile(path.join(app, 'main.cjs'), CJS_APP);

  // Plain Node: no tsx in the arguments or inherited through NODE_OPTIONS.
  const env = { ...process.env, NODE_OPTIONS: '' };
  for (const main of ['main.js', 'main.cjs']) {
    const { stdout } = await run(process.execPath, [main, `${server.wsURL}/v1/responses`], { cwd: app, env });
    const output = JSON.parse(stdout) as { kindAttribute: string; spans: { name: string; attributes: Record<string, unknown> }[] };
    assert.equal(output.kindAttribute, ATTR_KIND);
    const responses = output.spans.filter((span) => span.attributes[ATTR_KIND] === KIND.RESPONSE);
    assert.equal(responses.length, 1, `${main}: one response span expected, got ${JSON.stringify(output.spans)}`);
    const [response] = responses;
    assert.equal(response.name, `chat ${MOCK_MODEL}`);
    assert.equal(response.attributes[ATTR_API], API.OPENAI_RESPONSES);
    assert.equal(response.attributes[GEN_AI.REQUEST_MODEL], MOCK_MODEL);
    assert.equal(response.attributes[RESPONSE.OUTCOME], OUTCOME.COMPLETED);
    assert.equal(typeof response.attributes[RESPONSE.TTFT_MS], 'number');
  }

  await writeFile(path.join(app, 'consumer.ts'), CONSUMER);
  await writeFile(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'] },
    files: ['consumer.ts'],
  }));
  await run(process.execPath, [path.join(repoModules, 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, env });
});
