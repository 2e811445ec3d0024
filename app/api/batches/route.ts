import { assertPriorityAllowed } from '@/lib/batches/priority-ceiling';
import { startBatch } from '@/lib/batches/start-batch';
import { parseBatchInput, parseIdempotencyKey, parseListLimit } from '@/lib/batches/validate';
import { listBatches } from '@/lib/db/batches';
import { clientKeyOf, isHttps } from '@/web/http/client-address';
import { assertOrigin, otherMethods, strictQuery } from '@/web/http/guards';
import { isOperatorAuthorization } from '@/lib/operator-auth';
import { errorResponse, json, readJsonBody } from '@/web/http/respond';
import { hashSession, newSession, readSession, sessionCookie } from '@/web/http/session';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

const BODY_LIMIT_BYTES = 1024;

export async function POST(request: Request) {
  const ctx = routeContext();
  try {
    assertOrigin(request, ctx.allowedOrigins);
    strictQuery(request);
    const idempotencyKey = parseIdempotencyKey(request.headers.get('idempotency-key'));
    const input = parseBatchInput(await readJsonBody(request, BODY_LIMIT_BYTES), ctx.maxCells, ctx.maxPixels);
    assertPriorityAllowed(
      input.priority,
      ctx.maxPublicPriority,
      isOperatorAuthorization(ctx.operators, request.headers.get('authorization')),
    );
    const existingSession = readSession(request);
    const session = existingSession ?? newSession();
    const client = { key: clientKeyOf(request), session: hashSession(session), limits: ctx.clientLimits };
    const deps = {
      pool: ctx.pool,
      fanOutPool: ctx.fanOutPool,
      boss: ctx.boss,
      chunkSize: ctx.fanoutChunkSize,
      defaultDeadlineSeconds: ctx.batchDeadlineSeconds,
      maxActiveCells: ctx.maxActiveCells,
    };
    const { batch, created, fanOut } = await startBatch(deps, input, idempotencyKey, client);
    if (created)
      ctx.log.info('batch started', { batchId: batch.id, kind: batch.kind, rows: batch.rows, cols: batch.cols, priority: batch.priority });
    // The rest of the jobs go in after the answer; a failure is left to the web servers' resumer, and
    // so is a fan-out that found every fan-out connection busy.
    void fanOut?.then((result) => {
      if (result.outcome === 'failed') ctx.log.warn('fan-out stopped; it will be resumed', { batchId: batch.id, ...result });
      else if (result.outcome === 'deferred')
        ctx.log.info('fan-out left to the resumer: every fan-out connection is busy', { batchId: batch.id, ...result });
      else ctx.log.debug('fan-out finished', { batchId: batch.id, ...result });
    });
    const headers: Record<string, string> = { location: `/api/batches/${batch.id}` };
    if (!existingSession) headers['set-cookie'] = sessionCookie(session, isHttps(request, ctx.trustProxy));
    return json(created ? 201 : 200, batch, headers);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/batches' });
  }
}

export async function GET(request: Request) {
  const ctx = routeContext();
  try {
    const limit = parseListLimit(strictQuery(request, ['limit']).get('limit'));
    return json(200, { batches: await listBatches(ctx.pool, limit) });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches' });
  }
}

export const { PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET', 'POST');
