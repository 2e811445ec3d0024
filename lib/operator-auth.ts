import type { Config } from './config';
import { isLoopbackHost } from './host-names';
import type { ErrorBody } from './types';
import { isDashboardAuthorized } from './dashboard-auth';

/**
 * Who may use the operator controls (cancel a batch one did not start, pause or resume intake, read
 * /metrics, ask for a priority above the ceiling): the one rule for HTTP and Socket.IO alike, so the
 * paths cannot drift apart. See docs/security.md.
 */
export interface OperatorPolicy {
  /** DASHBOARD_TOKEN, when set: then only who presents it is an operator, wherever they come from. */
  token: string | undefined;
  /**
   * Only clients on this machine can reach the server: it listens on loopback, trusts no proxy (a
   * proxy forwards clients from anywhere) and answers to no host name but loopback ones.
   */
  localOnly: boolean;
}

export function operatorPolicy(cfg: Pick<Config, 'dashboardToken' | 'host' | 'trustProxy' | 'allowedHosts'>): OperatorPolicy {
  return {
    token: cfg.dashboardToken,
    localOnly: isLoopbackHost(cfg.host) && !cfg.trustProxy && cfg.allowedHosts.every((name) => isLoopbackHost(name)),
  };
}

/**
 * Whether a caller presenting `token` (null: none) is an operator, the same over HTTP and Socket.IO.
 * With DASHBOARD_TOKEN set, only its holder, wherever it comes from: the operator chose a token. With
 * none, the contract asks for a token only when the server can be reached from beyond loopback, so on
 * a local-only server every caller is an operator, and on any other no one is.
 */
export function isOperator(policy: OperatorPolicy, token: string | null | undefined): boolean {
  if (policy.token !== undefined) return typeof token === 'string' && token.length > 0 && isDashboardAuthorized(policy.token, token);
  return policy.localOnly;
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerTokenOf(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? match[1] : null;
}

/** `isOperator` for an HTTP request: the token counts only as `Authorization: Bearer <token>`. */
export function isOperatorAuthorization(policy: OperatorPolicy, authorization: string | null | undefined): boolean {
  return isOperator(policy, bearerTokenOf(authorization));
}

/** `isOperator` for a Socket.IO handshake: the token counts only as `auth: { token }`. */
export function isOperatorHandshake(policy: OperatorPolicy, auth: unknown): boolean {
  const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
  return isOperator(policy, typeof token === 'string' ? token : null);
}

/** Cancelling a batch: its own session may, and so may an operator. */
export function mayCancel(policy: OperatorPolicy, token: string | null | undefined, ownsBatch: boolean): boolean {
  return ownsBatch || isOperator(policy, token);
}

/** The answer to a control refused by `isOperator`: `403 forbidden` over HTTP, the same body in an ack. */
export const OPERATORS_ONLY: ErrorBody = {
  error: { code: 'forbidden', message: 'Only an operator (with DASHBOARD_TOKEN) can do this.' },
};

/**
 * Why this configuration may not start a web server, or null: a server listening beyond loopback
 * with no token would give the operator controls to anyone who reaches it.
 */
export function exposureProblem(cfg: Pick<Config, 'dashboardToken' | 'host'>): string | null {
  if (cfg.dashboardToken !== undefined || isLoopbackHost(cfg.host)) return null;
  return (
    `HOST=${cfg.host} lets machines beyond this one reach the server, and DASHBOARD_TOKEN is not set: anyone could cancel every batch and pause intake. ` +
    'Set DASHBOARD_TOKEN to a long random secret (for example DASHBOARD_TOKEN=$(openssl rand -hex 32)) and sign in to /dashboard with it, ' +
    'or listen on this machine only (unset HOST, or HOST=127.0.0.1).'
  );
}
