import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMembers } from '../src/parsers/json-members.ts';

const keys = (...names: string[]) => new Set(names);

describe('reading members of a JSON object', () => {
  it('reads the wanted top-level members and not same-named nested ones', () => {
    const json = JSON.stringify({
      messages: [{ role: 'user', content: 'use "model": "fake" and {"model":"nested"} here\\' }],
      tools: [{ parameters: { properties: { model: { type: 'string' } } } }],
      model: 'gpt-4.1',
      stream: true,
      n: -1.5e3,
      stop: null,
    });
    const members = readMembers(json, keys('model', 'stream', 'n', 'stop', 'absent'))!;
    assert.equal(members.value('model'), 'gpt-4.1');
    assert.equal(members.value('stream'), true);
    assert.equal(members.value('n'), -1500);
    assert.equal(members.value('stop'), null);
    assert.equal(members.value('absent'), undefined);
    assert.equal(members.start('absent'), -1);
  });

  it('gives a member value as its JSON text, and reads an object nested at a given index', () => {
    const json = '{"type":"response.completed","response":{"id":"r1","usage":{"input_tokens":3}},"sequence_number":9}';
    const event = readMembers(json, keys('response', 'sequence_number'))!;
    assert.equal(event.raw('response'), '{"id":"r1","usage":{"input_tokens":3}}');
    assert.equal(event.value('sequence_number'), 9);
    const response = readMembers(json, keys('id', 'usage'), event.start('response'))!;
    assert.equal(response.value('id'), 'r1');
    assert.deepEqual(response.value('usage'), { input_tokens: 3 });
  });

  it('walks strings ending in escaped backslashes and text with spaces between tokens', () => {
    const json = ' {\n  "a" : "ends with a backslash \\\\" ,\n  "b" : [ "\\"quoted\\"" , { "c" : "}" } ] ,\n  "model" : "m"\n}';
    assert.deepEqual(JSON.parse(json), { a: 'ends with a backslash \\', b: ['"quoted"', { c: '}' }], model: 'm' });
    const members = readMembers(json, keys('b', 'model'))!;
    assert.equal(members.value('model'), 'm');
    assert.deepEqual(members.value('b'), ['"quoted"', { c: '}' }]);
  });

  it('keeps what precedes the point where a text is cut or malformed', () => {
    const cut = '{"id":"r1","model":"m","output":[{"text":"abc';
    const members = readMembers(cut, keys('id', 'model', 'usage'))!;
    assert.equal(members.value('id'), 'r1');
    assert.equal(members.value('model'), 'm');
    assert.equal(members.value('usage'), undefined);
    assert.equal(readMembers('{"a":1 "model":"m"}', keys('model'))?.value('model'), undefined);
  });

  it('finds no object in text that is not one', () => {
    for (const text of ['', 'null', '[{"model":"m"}]', '"model"', 'data: {"model":"m"}']) {
      assert.equal(readMembers(text, keys('model')), undefined, text);
    }
  });

  it('keeps the first of a duplicated key', () => {
    assert.equal(readMembers('{"model":"first","x":{},"model":"second"}', keys('model', 'x'))?.value('model'), 'first');
  });
});
