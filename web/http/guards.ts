import { PublicError } from '../../lib/errors';
import { json } from './respond';
import { bearerTokenOf } from '../../lib/operator-auth';
import { isOriginAllowed } from '../../lib/origin';

/** Refuses a state-changing request sent by a page of a foreign origin (see `isOriginAllowed`). */
export function assertOrigin(request: Request, allowedOrigins: readonly string[]): void {
  if (!isOriginAllowed(request.headers.get('origin'), request.headers.get('host'), allowedOrigins)) {
    throw new PublicError('forbidden_origin', 'Requests from this origin are not allowed. Ask the operator to add it to ALLOWED_ORIGINS.');
  }
}

/**
 * The query string, holding only the parameters this endpoint knows, each at most once: a typo or
 * a parameter given twice is an error rather than silently ignored.
 */
export function strictQuery(request: Request, known: readonly string[] = []): URLSearchParams {
  const params = new URL(request.url).searchParams;
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!known.includes(key)) {
      const name = JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
      const accepted = known.length > 0 ? `it accepts only ${known.map((k) => `"${k}"`).join(', ')}` : 'it takes no query parameters';
      throw new PublicError('invalid_input', `Unknown query parameter ${name}: ${accepted}.`);
    }
    if (seen.has(key)) throw new PublicError('invalid_input', `The query parameter "${key}" is given more than once.`);
    seen.add(key);
  }
  return params;
}

const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type RouteMethod = (typeof ROUTE_METHODS)[number];

/**
 * Handlers for the methods an endpoint does not answer: a 405 in the contract's error shape with
 * `Allow` (Next's own 405 has no body), and an OPTIONS that lists the right methods.
 */
export function otherMethods<A extends RouteMethod>(...allowed: A[]): Record<Exclude<RouteMethod, A> | 'OPTIONS', () => Response> {
  const allow = [...new Set([...allowed, ...(allowed.includes('GET' as A) ? ['HEAD'] : []), 'OPTIONS'])].sort().join(', ');
  const notAllowed = () => json(405, { error: { code: 'method_not_allowed', message: `This endpoint answers ${allow} only.` } }, { allow });
  const handlers: Record<string, () => Response> = {
    OPTIONS: () => new Response(null, { status: 204, headers: { allow, 'cache-control': 'no-store' } }),
  };
  for (const method of ROUTE_METHODS) if (!allowed.includes(method as A)) handlers[method] = notAllowed;
  return handlers as Record<Exclude<RouteMethod, A> | 'OPTIONS', () => Response>;
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(request: Request): string | null {
  return bearerTokenOf(request.headers.get('authorization'));
}

/** Any /api path no endpoint serves: 404 in the error shape rather than the HTML page. */
export function apiNotFound(): Response {
  return json(404, { error: { code: 'not_found', message: 'There is no such API endpoint. See the contract in the README.' } });
}
