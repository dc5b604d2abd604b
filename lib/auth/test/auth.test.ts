import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ensureAdminCredential, verifyPassword } from '../credential';
import { createSessionToken, currentSessionSecret, SESSION_TTL_MS, verifySessionToken } from '../session';

let stateDir: string;

before(async () => {
  stateDir = await mkdtemp(path.join(tmpdir(), 'streamscope-auth-'));
});

after(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

test('a generated password is handed back once and only its hash is stored', async () => {
  const dir = path.join(stateDir, 'generated');
  const first = await ensureAdminCredential({ stateDir: dir, env: {} });
  assert.ok(first.generatedPassword && first.generatedPassword.length >= 20);
  const stored = await readFile(first.file, 'utf8');
  assert.ok(!stored.includes(first.generatedPassword));
  assert.equal((await stat(first.file)).mode & 0o777, 0o600);
  assert.equal(await verifyPassword(first.credential, first.generatedPassword), true);
  assert.equal(await verifyPassword(first.credential, 'guess'), false);

  const second = await ensureAdminCredential({ stateDir: dir, env: {} });
  assert.equal(second.generatedPassword, undefined);
  assert.equal(second.credential.hash, first.credential.hash);
});

test('the environment password wins, and changing it signs every session out', async () => {
  const dir = path.join(stateDir, 'env');
  const { credential } = await ensureAdminCredential({ stateDir: dir, env: { STREAMSCOPE_ADMIN_PASSWORD: 'one' } });
  assert.equal(await verifyPassword(credential, 'one'), true);
  const token = createSessionToken(credential);
  assert.equal(verifySessionToken(credential.sessionSecret, token), true);

  const same = await ensureAdminCredential({ stateDir: dir, env: { STREAMSCOPE_ADMIN_PASSWORD: 'one' } });
  assert.equal(same.credential.sessionSecret, credential.sessionSecret);

  const changed = await ensureAdminCredential({ stateDir: dir, env: { STREAMSCOPE_ADMIN_PASSWORD: 'two' } });
  assert.equal(await verifyPassword(changed.credential, 'two'), true);
  assert.equal(verifySessionToken(changed.credential.sessionSecret, token), false);
  assert.equal(await currentSessionSecret({ stateDir: dir, env: {} }), changed.credential.sessionSecret);
});

test('session tokens expire and cannot be altered', async () => {
  const { credential } = await ensureAdminCredential({ stateDir: path.join(stateDir, 'tokens'), env: { STREAMSCOPE_ADMIN_PASSWORD: 'pw' } });
  const now = Date.now();
  const token = createSessionToken(credential, now);
  assert.equal(verifySessionToken(credential.sessionSecret, token, now + SESSION_TTL_MS - 1), true);
  assert.equal(verifySessionToken(credential.sessionSecret, token, now + SESSION_TTL_MS + 1), false);
  const [version, expiry, signature] = token.split('.');
  assert.equal(verifySessionToken(credential.sessionSecret, `${version}.${Number(expiry) + 86_400_000}.${signature}`, now), false);
  assert.equal(verifySessionToken(credential.sessionSecret, undefined, now), false);
  assert.equal(verifySessionToken(credential.sessionSecret, 'garbage', now), false);
});

test('no credential file means no session secret', async () => {
  assert.equal(await currentSessionSecret({ stateDir: path.join(stateDir, 'missing'), env: {} }), null);
});
