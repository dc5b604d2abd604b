/*
 * The values the filter menus offer: services, models and transports seen in the range.
 * Read from the rollups, which hold exactly these keys at a fraction of the raw row count
 * (by the hour where the hourly tier has them).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../client';
import { queryRows } from '../rows';
import type { DashboardFilter } from './filter';
import { rollupSource } from './rollup-rows';

export interface FilterOptions {
  services: string[];
  models: string[];
  transports: string[];
}

export async function filterOptions(db: Db, filter: Pick<DashboardFilter, 'from' | 'to'>): Promise<FilterOptions> {
  const rows = await queryRows<{ dimension: keyof FilterOptions; value: string }>(
    db,
    sql`with seen as (select distinct service, model, transport from (${rollupSource(filter, { hours: true, columns: sql`service, model, transport` })}) r)
        select 'services' as dimension, service as value from seen
        union select 'models', model from seen
        union select 'transports', transport from seen`,
  );
  const options: FilterOptions = { services: [], models: [], transports: [] };
  for (const row of rows) if (row.value) options[row.dimension].push(row.value);
  for (const values of Object.values(options)) values.sort();
  return options;
}

/** Whether anything was ever received: tells "send some data" apart from "nothing in this range". */
export async function hasAnyResponses(db: Db): Promise<boolean> {
  const [row] = await queryRows<{ present: boolean }>(db, sql`select exists (select 1 from responses) as present`);
  return Boolean(row?.present);
}
