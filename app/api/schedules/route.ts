import { parseScheduleInput } from '@/lib/batches/schedule-input';
import { createSchedule, listSchedules, nextRunOf } from '@/lib/batches/schedules';
import { PublicError } from '@/lib/errors';
import { isOperatorAuthorization, OPERATORS_ONLY } from '@/lib/operator-auth';
import { assertOrigin, otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse, json, readJsonBody } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

const BODY_LIMIT_BYTES = 4096;

/** Schedules are operator controls (lib/operator-auth.ts): 403 for anyone else. */
export function assertOperator(request: Request): void {
  if (!isOperatorAuthorization(routeContext().operators, request.headers.get('authorization'))) {
    throw new PublicError('forbidden', OPERATORS_ONLY.error.message);
  }
}

export async function POST(request: Request) {
  const ctx = routeContext();
  try {
    assertOrigin(request, ctx.allowedOrigins);
    strictQuery(request);
    assertOperator(request);
    const body = await readJsonBody(request, BODY_LIMIT_BYTES);
    const input = parseScheduleInput(body, { maxCells: ctx.maxCells, maxPixels: ctx.maxPixels }, (cron, tz) =>
      nextRunOf(ctx.boss, cron, tz),
    );
    const schedule = await createSchedule(ctx, input);
    ctx.log.info('schedule created', { schedule: schedule.name, cron: schedule.cron, timezone: schedule.timezone });
    return json(201, schedule, { location: `/api/schedules/${schedule.name}` });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/schedules' });
  }
}

export async function GET(request: Request) {
  const ctx = routeContext();
  try {
    strictQuery(request);
    assertOperator(request);
    return json(200, { schedules: await listSchedules(ctx) });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/schedules' });
  }
}

export const { PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET', 'POST');
