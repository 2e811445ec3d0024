import { parseScheduleName } from '@/lib/batches/schedule-input';
import { deleteSchedule } from '@/lib/batches/schedules';
import { PublicError } from '@/lib/errors';
import { isOperatorAuthorization, OPERATORS_ONLY } from '@/lib/operator-auth';
import { assertOrigin, otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

export async function DELETE(request: Request, { params }: { params: Promise<{ name: string }> }) {
  const ctx = routeContext();
  const { name } = await params;
  try {
    assertOrigin(request, ctx.allowedOrigins);
    strictQuery(request);
    if (!isOperatorAuthorization(ctx.operators, request.headers.get('authorization'))) {
      throw new PublicError('forbidden', OPERATORS_ONLY.error.message);
    }
    let valid = true;
    try {
      parseScheduleName(name);
    } catch {
      valid = false;
    }
    if (!valid || !(await deleteSchedule(ctx, name))) throw new PublicError('not_found', 'No schedule has this name.');
    ctx.log.info('schedule deleted', { schedule: name });
    return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'DELETE /api/schedules/:name', schedule: name.slice(0, 100) });
  }
}

export const { GET, POST, PUT, PATCH, OPTIONS } = otherMethods('DELETE');
