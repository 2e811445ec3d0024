import { PublicError } from '@/lib/errors';
import { isOperator, OPERATORS_ONLY } from '@/lib/operator-auth';
import { isSteerAction, steerWorker } from '@/lib/workers/steer-worker';
import { apiNotFound, assertOrigin, bearerToken, otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse, json } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

/** Worker ids are short names (WORKER_ID, `w-1`); anything longer is no worker's. */
const MAX_ID_LENGTH = 200;

/**
 * `POST /api/workers/:id/pause`, `/resume` and `/drain`: an operator control. Answers the worker
 * as `GET /api/workers` lists it, right after the request was recorded; the worker acts on it
 * within a second or two (lib/workers/steer-worker.ts).
 */
export async function POST(request: Request, { params }: { params: Promise<{ id: string; action: string }> }) {
  const ctx = routeContext();
  const { id, action } = await params;
  if (!isSteerAction(action)) return apiNotFound();
  try {
    assertOrigin(request, ctx.allowedOrigins);
    strictQuery(request);
    if (!isOperator(ctx.operators, bearerToken(request))) {
      return json(403, OPERATORS_ONLY, { 'www-authenticate': 'Bearer realm="finish-line"' });
    }
    if (id.length > MAX_ID_LENGTH) throw new PublicError('not_found', 'No worker has this id.');
    const worker = await steerWorker(ctx.pool, id, action, ctx.deadWorkerSeconds);
    ctx.log.info(`worker ${action} requested`, { worker: id, by: 'api' });
    return json(200, worker);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: `POST /api/workers/:id/${action}`, worker: id.slice(0, 100) });
  }
}

type Params = { params: Promise<{ action: string }> };
const others = otherMethods('POST');
/** The other methods: 405 on a steering path, 404 on any other (as the catch-all answers). */
const elsewhere =
  (handler: () => Response) =>
  async (_request: Request, { params }: Params) =>
    isSteerAction((await params).action) ? handler() : apiNotFound();

export const GET = elsewhere(others.GET);
export const PUT = elsewhere(others.PUT);
export const PATCH = elsewhere(others.PATCH);
export const DELETE = elsewhere(others.DELETE);
export const OPTIONS = elsewhere(others.OPTIONS);
