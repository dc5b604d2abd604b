import type { NextRequest } from 'next/server';
import { alertsApi, mutation, mutationWithBody, respond, type RuleRouteContext } from '../http';

export async function GET(_request: NextRequest, { params }: RuleRouteContext) {
  const { id } = await params;
  return respond(await (await alertsApi()).get({ id }));
}

export async function PATCH(request: NextRequest, { params }: RuleRouteContext) {
  const { id } = await params;
  return mutationWithBody(request, (api, body) => api.update({ id, body }));
}

export async function DELETE(request: NextRequest, { params }: RuleRouteContext) {
  const { id } = await params;
  return mutation(request, (api) => api.remove({ id }));
}
