/*
 * The connections in use during a range, for the figures that follow connections over
 * time (the overview's open connections, compare's handshake cost per response).
 *
 * Up to RAW_RANGE_LIMIT_MS they are read from raw rows (connectionsInUse): a connection
 * reported closed is looked for only if it opened at most MAX_CONNECTION_LIFETIME_MS
 * before the range; one reported still open (closed_at null: its latest open report,
 * db/open-connections.ts) is found at any age through a partial index.
 *
 * Longer ranges read the connection rollups (inUseFromRollups), where a connection
 * reported closed counts where it opened, where it closed and at the start of each hour it
 * spanned (db/connection-rollups.ts). Those in use at the range's first minute F are those
 * open at its hour's start H plus those opened minus those closed in [H, F); from there
 * on, each minute or hour adds those opened and drops those closed. Those reported still
 * open come from the partial index as above (reportedOpen). A week reads about a thousand
 * rollup rows instead of every connection of it (bench/queries: 205 k rows at 10 M
 * responses a week, read by sequential scans of the daily partitions).
 */
import { sql, type SQL } from 'drizzle-orm';
import { CONNECTION_ROLLUPS } from '../connection-rollups';
import { HOUR_MS, hourStart, minuteStart } from '../time-buckets';
import { andConditions, dimensionConditions, type DashboardFilter } from './filter';
import { rollupSource, type RollupTables } from './rollup-rows';

export const MAX_CONNECTION_LIFETIME_MS = 24 * HOUR_MS;

export const CONNECTION_TABLES: RollupTables = { minutes: CONNECTION_ROLLUPS.minutes, hours: CONNECTION_ROLLUPS.hours, dimensions: ['service', 'transport'] };

type ConnectionDimension = 'service' | 'transport';

const at = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** `columns` of the connections in use during [from, to), as one union; connections carry no model. */
export function connectionsInUse(filter: DashboardFilter, dimensions: readonly ConnectionDimension[], columns: SQL): SQL {
  const lookback = at(filter.from.getTime() - MAX_CONNECTION_LIFETIME_MS);
  const dims = andConditions(dimensionConditions(filter, dimensions));
  return sql`select ${columns} from connections
      where opened_at >= ${lookback} and opened_at < ${at(filter.to.getTime())} and (closed_at is null or closed_at >= ${at(filter.from.getTime())})${dims}
    union all
    select ${columns} from connections where closed_at is null and opened_at < ${lookback}${dims}`;
}

/** `columns` of the connections reported still open that opened before the range end, at any age (partial index). */
export function reportedOpen(filter: DashboardFilter, dimensions: readonly ConnectionDimension[], columns: SQL): SQL {
  const dims = andConditions(dimensionConditions(filter, dimensions));
  return sql`select ${columns} from connections where closed_at is null and opened_at < ${at(filter.to.getTime())}${dims}`;
}

/**
 * The connections reported closed in use during [from, to), from the connection rollups,
 * as rows of (bucket epoch ms, transport, opened, carrying, handshake_ms, responses, closed):
 * one row at the range's first minute for those already open then, and one per minute or
 * hour (`hours`) for those opened and closed in it. `carrying`, `handshake_ms` and
 * `responses` count the opened that carried a response. The minute holding `from` counts
 * whole: rollups know no finer time.
 */
export function inUseFromRollups(filter: DashboardFilter, { hours }: { hours: boolean }): SQL {
  const first = minuteStart(filter.from.getTime());
  const hour = hourStart(first);
  const dims = andConditions(dimensionConditions(filter, CONNECTION_TABLES.dimensions));
  const openAtFirst = (column: string) => sql.raw(`sum(case when bucket = '${new Date(hour).toISOString()}'::timestamptz then use_at_start${column} else 0 end
    + case when bucket < '${new Date(first).toISOString()}'::timestamptz then use_opened${column} - use_closed${column} else 0 end)`);
  const columns = sql.raw(`(extract(epoch from bucket) * 1000)::float8 as bucket, transport, use_opened::float8 as opened,
    use_opened_carrying::float8 as carrying, use_opened_handshake_ms as handshake_ms, use_opened_responses::float8 as responses,
    use_closed::float8 as closed`);
  return sql`select ${first}::float8 as bucket, transport, ${openAtFirst('')}::float8 as opened, ${openAtFirst('_carrying')}::float8 as carrying,
        ${openAtFirst('_handshake_ms')}::float8 as handshake_ms, ${openAtFirst('_responses')}::float8 as responses, 0::float8 as closed
      from ${sql.identifier(CONNECTION_TABLES.minutes)} where bucket >= ${at(hour)} and bucket <= ${at(first)}${dims}
      group by transport
    union all
    ${rollupSource({ ...filter, from: new Date(first) }, { hours, columns, tables: CONNECTION_TABLES })}`;
}
