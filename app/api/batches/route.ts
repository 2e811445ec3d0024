import { startBatch } from '@/lib/batches/start-batch';
import { parseBatchInput, parseIdempotencyKey, parseListLimit } from '@/lib/batches/validate';
import { listBatches } from '@/lib/db/batches';
import { routeContext } from '@/lib/http/context';
import { errorResponse, json, readJsonBody } from '@/lib/http/respond';

export const dynamic = 'force-dynamic';

const BODY_LIMIT_BYTES = 1024;

export async function POST(request: Request) {
  const ctx = routeContext();
  try {
    const idempotencyKey = parseIdempotencyKey(request.headers.get('idempotency-key'));
    const input = parseBatchInput(await readJsonBody(request, BODY_LIMIT_BYTES), ctx.maxCells);
    const deps = { pool: ctx.pool, boss: await ctx.boss(), chunkSize: ctx.fanoutChunkSize, defaultDeadlineSeconds: ctx.batchDeadlineSeconds };
    const { batch, created, fanOut } = await startBatch(deps, input, idempotencyKey);
    if (created) ctx.log.info('batch started', { batchId: batch.id, rows: batch.rows, cols: batch.cols, priority: batch.priority });
    // The rest of the jobs go in after the answer; a failure is left to the web servers' resumer.
    void fanOut?.then((result) => {
      if (result.outcome === 'failed') ctx.log.warn('fan-out stopped; it will be resumed', { batchId: batch.id, ...result });
      else ctx.log.debug('fan-out finished', { batchId: batch.id, ...result });
    });
    return json(created ? 201 : 200, batch, { location: `/api/batches/${batch.id}` });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/batches' });
  }
}

export async function GET(request: Request) {
  const ctx = routeContext();
  try {
    const limit = parseListLimit(new URL(request.url).searchParams.get('limit'));
    return json(200, { batches: await listBatches(ctx.pool, limit) });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches' });
  }
}
