import { listRecentWorkers } from '@/lib/db/workers';
import { isOperator, OPERATORS_ONLY } from '@/lib/operator-auth';
import { bearerToken, otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse, json } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

/** The most workers one answer lists (those heard from in the last hour, by id). */
const MAX_WORKERS = 500;

/**
 * Every worker heard from in the last hour, as the dashboard shows them. An operator's view, as
 * the dashboard and /metrics are: hosts, process ids and what each worker holds are not for strangers.
 */
export async function GET(request: Request) {
  const ctx = routeContext();
  try {
    strictQuery(request);
    if (!isOperator(ctx.operators, bearerToken(request))) {
      return json(403, OPERATORS_ONLY, { 'www-authenticate': 'Bearer realm="finish-line"' });
    }
    return json(200, { workers: await listRecentWorkers(ctx.pool, ctx.deadWorkerSeconds, MAX_WORKERS) });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/workers' });
  }
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET');
