/*
 * The explorer: one page of responses, sorted, filtered and searchable by response id or
 * trace id.
 */
import { and, count, eq, gte, like, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../client';
import { responses, type ResponseRow } from '../schema';
import type { DashboardFilter } from './filter';

export const EXPLORER_SORTS = {
  start: responses.startTime,
  ttft: responses.ttftMs,
  duration: responses.durationMs,
  tokens: responses.outputTokens,
  tps: responses.tokensPerSecond,
} as const;

export type ExplorerSort = keyof typeof EXPLORER_SORTS;

export interface ExplorerQuery {
  filter: DashboardFilter;
  /** A response id or trace id, or the start of one. Searches all time, not just the range. */
  search?: string;
  status?: 'ok' | 'error';
  sort?: ExplorerSort;
  order?: 'asc' | 'desc';
  /** 1-based. */
  page?: number;
  pageSize?: number;
}

const listColumns = {
  traceId: responses.traceId,
  spanId: responses.spanId,
  responseId: responses.responseId,
  startTime: responses.startTime,
  service: responses.service,
  model: responses.model,
  transport: responses.transport,
  status: responses.status,
  outcome: responses.outcome,
  ttftMs: responses.ttftMs,
  durationMs: responses.durationMs,
  outputTokens: responses.outputTokens,
  tokensPerSecond: responses.tokensPerSecond,
  itlP50Ms: responses.itlP50Ms,
  connectionReused: responses.connectionReused,
};

export type ExplorerRow = Pick<ResponseRow, keyof typeof listColumns>;

export interface ExplorerPage {
  rows: ExplorerRow[];
  /** Matching responses, counted up to COUNT_LIMIT + 1; more than COUNT_LIMIT shows as "10,000+". */
  total: number;
  /** Whether more than COUNT_LIMIT responses match (total is then COUNT_LIMIT + 1). */
  totalCapped: boolean;
  page: number;
  pageSize: number;
}

export const DEFAULT_PAGE_SIZE = 50;
/**
 * Counting stops past this: an exact count of a week is every row of it (bench/queries:
 * 1.3 s at 10 M responses), and nobody pages through ten thousand responses.
 */
export const COUNT_LIMIT = 10_000;

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function conditions(query: ExplorerQuery): SQL | undefined {
  const { filter } = query;
  const search = query.search?.trim();
  const parts: (SQL | undefined)[] = [
    search ? undefined : gte(responses.startTime, filter.from),
    search ? undefined : lt(responses.startTime, filter.to),
    filter.service ? eq(responses.service, filter.service) : undefined,
    filter.model ? eq(responses.model, filter.model) : undefined,
    filter.transport ? eq(responses.transport, filter.transport) : undefined,
    query.status ? eq(responses.status, query.status) : undefined,
    search
      ? or(like(responses.responseId, `${escapeLike(search)}%`), like(responses.traceId, `${escapeLike(search.toLowerCase())}%`))
      : undefined,
  ];
  return and(...parts);
}

export async function exploreResponses(db: Db, query: ExplorerQuery): Promise<ExplorerPage> {
  const pageSize = query.pageSize ?? DEFAULT_PAGE_SIZE;
  const page = Math.max(1, Math.floor(query.page ?? 1));
  const column = EXPLORER_SORTS[query.sort ?? 'start'];
  const direction = query.order === 'asc' ? sql`asc` : sql`desc`;
  // start_time is never null, and saying "nulls last" anyway keeps the planner from reading
  // its index backwards: the newest page of a week became a sort of every row in it
  // (bench/queries: 5.9 s at 10 M responses).
  const nulls = column === responses.startTime ? sql`` : sql` nulls last`;
  const where = conditions(query);
  const [rows, [{ total }]] = await Promise.all([
    db
      .select(listColumns)
      .from(responses)
      .where(where)
      // Responses without the sorted figure (no output, no TTFT) go last either way.
      .orderBy(sql`${column} ${direction}${nulls}`, sql`${responses.startTime} desc`, responses.spanId)
      .limit(pageSize)
      .offset((page - 1) * pageSize),
    db.select({ total: count() }).from(db.select({ one: sql`1` }).from(responses).where(where).limit(COUNT_LIMIT + 1).as('matching')),
  ]);
  return { rows, total: Number(total), totalCapped: Number(total) > COUNT_LIMIT, page, pageSize };
}
