import type { NextRequest } from 'next/server';
import { alertsApi, mutationWithBody, respond } from './http';

export const dynamic = 'force-dynamic';

export async function GET() {
  return respond(await (await alertsApi()).list());
}

export function POST(request: NextRequest) {
  return mutationWithBody(request, (api, body) => api.create({ body }));
}
