/*
 * The benchmark's database. By default a fresh one, dropped at the end. `--database NAME`
 * names it and `--keep` keeps it, so that a loaded history (about 12 minutes for 10 M
 * responses) can be measured again by a later run: a database that already holds a
 * completed load is migrated to the current schema and reused, its load skipped.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import type { Store } from '../../db/client';
import { queryRows } from '../../db/rows';
import { ADMIN_URL } from '../../test/support/databases';
import type { Dataset } from './dataset';

export interface BenchDatabase {
  name: string;
  url: string;
  /** Whether the database was there before this run. */
  existed: boolean;
  /** Drops the database unless `keep`; closes the admin connection either way. */
  release(keep: boolean): Promise<void>;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openBenchDatabase(name = `streamscope_bench_${process.pid}_${randomBytes(4).toString('hex')}`): Promise<BenchDatabase> {
  if (!NAME.test(name)) throw new Error(`--database ${name}: lower-case letters, digits and _ only`);
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  const [{ existed }] = await admin<{ existed: boolean }[]>`select exists (select 1 from pg_database where datname = ${name}) as existed`;
  if (!existed) await admin.unsafe(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    existed,
    async release(keep) {
      if (!keep) await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** What a completed load leaves for a later run: the dataset and how long loading it took. */
export interface SavedLoad {
  dataset: Dataset;
  loadSeconds: number;
}

export async function saveLoad(store: Store, load: SavedLoad): Promise<void> {
  await store.db.execute(sql`create table bench_queries_load (load jsonb not null)`);
  await store.db.execute(sql`insert into bench_queries_load (load) values (${JSON.stringify(load)}::jsonb)`);
}

/** The load a previous run completed in this database, or null if it holds none. */
export async function savedLoad(store: Store): Promise<SavedLoad | null> {
  const [{ present }] = await queryRows<{ present: boolean }>(store.db, sql`select to_regclass('bench_queries_load') is not null as present`);
  if (!present) return null;
  const [row] = await queryRows<{ load: string }>(store.db, sql`select load::text as load from bench_queries_load`);
  if (!row) return null;
  const { dataset, loadSeconds } = JSON.parse(row.load) as SavedLoad;
  return { dataset: { ...dataset, from: new Date(dataset.from), to: new Date(dataset.to) }, loadSeconds };
}
