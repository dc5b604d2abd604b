import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { describeEachDatabase } from '../../test/support/databases';
import { runAlertsCli } from '../cli';
import type { RuleInput } from '../rule';
import { applyRulesFile, RulesFileError } from '../rules-file';
import { listRules } from '../rules-store';
import { clearTables, TTFT_RULE } from './support';

const ERROR_RATE: RuleInput = { name: 'error rate', metric: 'error_rate', statistic: 'rate', comparison: '>', threshold: '5%', window: '5m' };
const THROUGHPUT: RuleInput = { name: 'throughput floor', metric: 'responses_per_second', statistic: 'rate', comparison: '<', threshold: 1, window: '10m' };

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamscope-rules-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function rulesFile(content: unknown): Promise<string> {
  const path = join(dir, `rules-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

describeEachDatabase('applyRulesFile', (database) => {
  beforeEach(() => clearTables(database().store));
  const names = async () => (await listRules(database().store.db)).map((r) => r.name);

  test('creates the rules of a file, and applying it again changes nothing', async () => {
    const path = await rulesFile({ rules: [TTFT_RULE, ERROR_RATE] });
    assert.deepEqual(await applyRulesFile(database().store, path), {
      created: ['websocket ttft p99', 'error rate'], updated: [], unchanged: [], deleted: [],
    });
    assert.deepEqual(await applyRulesFile(database().store, path), {
      created: [], updated: [], unchanged: ['websocket ttft p99', 'error rate'], deleted: [],
    });
  });

  test('updates rules by name and leaves rules the file lacks unless asked to prune', async () => {
    await applyRulesFile(database().store, await rulesFile([TTFT_RULE, ERROR_RATE]));
    const edited = await rulesFile([{ ...TTFT_RULE, threshold: '250ms' }, THROUGHPUT]);
    assert.deepEqual(await applyRulesFile(database().store, edited), {
      created: ['throughput floor'], updated: ['websocket ttft p99'], unchanged: [], deleted: [],
    });
    assert.deepEqual(await names(), ['error rate', 'throughput floor', 'websocket ttft p99']);

    assert.deepEqual(await applyRulesFile(database().store, edited, { prune: true }), {
      created: [], updated: [], unchanged: ['websocket ttft p99', 'throughput floor'], deleted: ['error rate'],
    });
    assert.deepEqual(await names(), ['throughput floor', 'websocket ttft p99']);
    const [, ttft] = await listRules(database().store.db);
    assert.equal(ttft.threshold, 250);
  });

  test('a file with any bad rule is refused whole, naming the rule and field', async () => {
    await applyRulesFile(database().store, await rulesFile([TTFT_RULE]));
    const path = await rulesFile({ rules: [THROUGHPUT, { ...ERROR_RATE, comparison: '!=' }, { ...TTFT_RULE, threshold: 1 }, TTFT_RULE] });
    await assert.rejects(applyRulesFile(database().store, path, { prune: true }), (error: unknown) => {
      assert.ok(error instanceof RulesFileError);
      assert.deepEqual(error.errors, [
        { field: 'rules[1].comparison', message: 'must be one of >, >=, <, <=' },
        { field: 'rules[3].name', message: '"websocket ttft p99" appears more than once' },
      ]);
      assert.match(error.message, /rules\[1\]\.comparison must be one of/);
      return true;
    });
    assert.deepEqual(await names(), ['websocket ttft p99']);
  });

  test('a file that is not JSON, or holds no list of rules, says so', async () => {
    await assert.rejects(applyRulesFile(database().store, await rulesFile('rules:\n  - name: x')), /is not valid JSON/);
    await assert.rejects(applyRulesFile(database().store, await rulesFile({ alerts: [] })), /rules must be a list of rules/);
  });
});

describeEachDatabase('alerts command', (database) => {
  beforeEach(() => clearTables(database().store));

  async function run(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAlertsCli(args, { store: database().store, out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  }

  test('apply prints what changed, list prints each rule, a bad file prints each field and exits 1', async () => {
    const path = await rulesFile([TTFT_RULE, ERROR_RATE]);
    assert.deepEqual(await run('apply', path, '--prune'), { code: 0, out: ['created (2): websocket ttft p99, error rate'], err: [] });
    assert.deepEqual((await run('list')).out, [
      'inactive\terror rate\terror rate > 5% over 5m',
      'inactive\twebsocket ttft p99\tTTFT p99 > 300 ms over 1m (transport=websocket)',
    ]);
    const bad = await rulesFile([{ ...TTFT_RULE, window: 'soon' }]);
    assert.deepEqual(await run('apply', bad), {
      code: 1,
      out: [],
      err: [`${bad}: nothing applied`, '  rules[0].window: must be a duration such as "30s", "5m", "1h" or a number of seconds'],
    });
  });

  test('a malformed command prints the usage and exits 2', async () => {
    assert.equal((await run('apply')).code, 2);
    assert.equal((await run('remove', 'x')).code, 2);
  });
});
