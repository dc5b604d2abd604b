/** The rule form, offering the services and models seen in the last week as filter values. */
import type { RuleView } from '@/alerts';
import { sharedStore } from '@/db/client';
import { filterOptions } from '@/db/queries/filter-options';
import { RuleForm } from './rule-form';

const SUGGESTION_WINDOW_MS = 7 * 24 * 3600 * 1000;

export async function RuleEditor({ rule }: { rule?: RuleView }) {
  const { db } = await sharedStore();
  const now = new Date();
  const { services, models } = await filterOptions(db, { from: new Date(now.getTime() - SUGGESTION_WINDOW_MS), to: now });
  return <RuleForm rule={rule} suggestions={{ service: services, model: models }} />;
}
