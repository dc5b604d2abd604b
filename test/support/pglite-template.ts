/*
 * A migrated PGlite data directory that every PGlite test database starts from. Creating a
 * PGlite database runs initdb, about 3 s on the test machines, and the suite opens dozens;
 * loading a dump of a migrated one takes under 1 s. The dump is made once per migration set
 * and PGlite version and kept in the system's temporary directory, so the test files, each
 * a process of its own, share it.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pgliteStore } from '../../db/client';
import { MIGRATIONS_FOLDER, migrateStore } from '../../db/migrate';

/** What the dump depends on: PGlite's version (its data directory format) and every migration file. */
async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  // The package does not export its package.json: it is read beside its entry point (dist/).
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  hash.update(await readFile(path.join(path.dirname(entry), '..', 'package.json')));
  const files = (await readdir(MIGRATIONS_FOLDER, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) hash.update(path.relative(MIGRATIONS_FOLDER, file)).update(await readFile(file));
  return hash.digest('hex').slice(0, 16);
}

let template: Promise<Blob> | undefined;

/** The migrated data directory as a tarball (PGlite's `dumpDataDir`), made on first use. */
function migratedPgliteDump(): Promise<Blob> {
  template ??= (async () => {
    const file = path.join(os.tmpdir(), `streamscope-test-pglite-${await templateKey()}.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch {
      // Not made yet: made below. Files racing to make it each write their own, then rename.
    }
    const store = pgliteStore(await PGlite.create(), 'memory://');
    await migrateStore(store);
    const dump = await store.pglite!.dumpDataDir('none');
    await store.close();
    const partial = `${file}.${process.pid}`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
    return dump;
  })();
  return template;
}

/**
 * A migrated PGlite database, in memory or in `dataDir` (which must not hold one yet). The
 * migrations run again, a no-op on the dump, so a stale dump could not go unnoticed.
 */
export async function openMigratedPglite(dataDir?: string): Promise<PGlite> {
  const pglite = await PGlite.create(dataDir, { loadDataDir: await migratedPgliteDump() });
  await migrateStore(pgliteStore(pglite, dataDir ?? 'memory://'));
  return pglite;
}
