import type { NextRequest } from 'next/server';
import { mutation, type RuleRouteContext } from '../../http';

export async function POST(request: NextRequest, { params }: RuleRouteContext) {
  const { id } = await params;
  return mutation(request, (api) => api.test({ id }));
}
