import type { NextRequest } from 'next/server';
import { alertsApi, respond, type RuleRouteContext } from '../../http';

export async function GET(request: NextRequest, { params }: RuleRouteContext) {
  const { id } = await params;
  const limit = request.nextUrl.searchParams.get('limit') ?? undefined;
  return respond(await (await alertsApi()).history({ id, limit }));
}
