import { bearerToken } from '@/web/http/guards';
import { isOperator, OPERATORS_ONLY } from '@/lib/operator-auth';
import { json } from '@/web/http/respond';
import { collectMetrics } from '@/lib/metrics/collect';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '@/lib/metrics/prometheus';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

/**
 * Prometheus metrics, an operator control (the contract's "Operator controls"): with DASHBOARD_TOKEN
 * set, only `Authorization: Bearer <token>`; without one, open on a local-only server, as the
 * dashboard is, and closed on any other.
 */
export async function GET(request: Request) {
  const ctx = routeContext();
  if (!isOperator(ctx.operators, bearerToken(request))) {
    return json(403, OPERATORS_ONLY, { 'www-authenticate': 'Bearer realm="finish-line"' });
  }
  try {
    const families = await collectMetrics(ctx.pool, ctx.deadWorkerSeconds);
    return new Response(renderPrometheus(families), {
      status: 200,
      headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' },
    });
  } catch (err) {
    ctx.log.warn('metrics read failed', { err });
    return json(503, { error: { code: 'unavailable', message: 'PostgreSQL is not answering; the metrics cannot be read. Try again.' } });
  }
}
