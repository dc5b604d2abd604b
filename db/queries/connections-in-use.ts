/*
 * The connections in use during a range, for the figures that follow connections over
 * time (the overview's open connections, compare's handshake cost per response). Reading
 * every connection opened before the range end is what made these slow (bench/queries:
 * 5–7 s at a week), so a connection reported closed is looked for only if it opened at
 * most MAX_CONNECTION_LIFETIME_MS before the range; one reported still open (closed_at
 * null: the process exited with it open) is found at any age through a partial index.
 */
import { sql, type SQL } from 'drizzle-orm';
import { HOUR_MS } from '../hourly-rollups';
import { andConditions, dimensionConditions, type DashboardFilter } from './filter';

export const MAX_CONNECTION_LIFETIME_MS = 24 * HOUR_MS;

/** `columns` of the connections in use during [from, to), as one union; connections carry no model. */
export function connectionsInUse(filter: DashboardFilter, dimensions: readonly ('service' | 'transport')[], columns: SQL): SQL {
  const from = sql`${filter.from.toISOString()}::timestamptz`;
  const to = sql`${filter.to.toISOString()}::timestamptz`;
  const lookback = sql`${new Date(filter.from.getTime() - MAX_CONNECTION_LIFETIME_MS).toISOString()}::timestamptz`;
  const dims = andConditions(dimensionConditions(filter, dimensions));
  return sql`select ${columns} from connections
      where opened_at >= ${lookback} and opened_at < ${to} and (closed_at is null or closed_at >= ${from})${dims}
    union all
    select ${columns} from connections where closed_at is null and opened_at < ${lookback}${dims}`;
}
