/*
 * What every dashboard page starts from: the view state in its URL, the database, the
 * filter menus and whether any data arrived at all.
 */
import { sharedStore } from '@/db/client';
import { filterOptions, hasAnyResponses } from '@/db/queries/filter-options';
import { parseViewParams, type SearchParams } from '@/lib/ui/view-params';

export async function loadDashboard(searchParams: Promise<SearchParams>) {
  const params = await searchParams;
  const view = parseViewParams(params);
  const { db } = await sharedStore();
  const [options, hasData] = await Promise.all([filterOptions(db, view.filter), hasAnyResponses(db)]);
  return { params, view, db, options, hasData };
}

export type Dashboard = Awaited<ReturnType<typeof loadDashboard>>;
