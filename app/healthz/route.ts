import { routeContext } from '@/web/http/route-context';
import { json } from '@/web/http/respond';

export const dynamic = 'force-dynamic';

export async function GET() {
  const ctx = routeContext();
  try {
    await ctx.pool.query('select 1');
    return json(200, { ok: true });
  } catch (err) {
    ctx.log.warn('health check failed', { err });
    return json(503, { ok: false, error: { code: 'unavailable', message: 'PostgreSQL is not answering.' } });
  }
}
