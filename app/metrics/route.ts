import { config } from '@/lib/config';
import { isDashboardAuthorized } from '@/lib/http/dashboard-auth';
import { routeContext } from '@/lib/http/context';
import { json } from '@/lib/http/respond';
import { collectMetrics } from '@/lib/metrics/collect';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '@/lib/metrics/prometheus';

export const dynamic = 'force-dynamic';

/** Prometheus metrics; behind `Authorization: Bearer <DASHBOARD_TOKEN>` when a token is configured. */
export async function GET(request: Request) {
  const ctx = routeContext();
  const cfg = config();
  if (!isDashboardAuthorized(cfg.dashboardToken, request.headers.get('authorization'))) {
    return json(401, { error: { code: 'unauthorized', message: 'Send the dashboard token as "Authorization: Bearer <token>".' } }, { 'www-authenticate': 'Bearer realm="finish-line"' });
  }
  try {
    // Three missed heartbeats mean a worker is gone, as on the pages.
    const families = await collectMetrics(ctx.pool, cfg.workerHeartbeatSeconds * 3);
    return new Response(renderPrometheus(families), { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' } });
  } catch (err) {
    ctx.log.warn('metrics read failed', { err });
    return json(503, { error: { code: 'unavailable', message: 'PostgreSQL is not answering; the metrics cannot be read. Try again.' } });
  }
}
