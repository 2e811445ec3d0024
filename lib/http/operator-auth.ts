import type { Config } from '../config';
import { isLoopbackHost } from '../host-names';
import type { ErrorBody } from '../types';
import { isDashboardAuthorized } from './dashboard-auth';

/**
 * Who may use the operator controls (cancel a batch one did not start, pause or resume intake): the
 * one rule for HTTP and Socket.IO alike, so the two cannot drift apart. See docs/security.md.
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

/** How a caller asks: over the HTTP API (`Authorization: Bearer`) or through the dashboard's sign-in. */
export interface OperatorCredential {
  via: 'api' | 'dashboard';
  /** The token it presents, if any. */
  token: string | null | undefined;
}

export function operatorPolicy(cfg: Pick<Config, 'dashboardToken' | 'host' | 'trustProxy' | 'allowedHosts'>): OperatorPolicy {
  return {
    token: cfg.dashboardToken,
    localOnly: isLoopbackHost(cfg.host) && !cfg.trustProxy && cfg.allowedHosts.every((name) => isLoopbackHost(name)),
  };
}

/**
 * Whether the caller is an operator. With a token, only its holder, over either path. Without one,
 * the dashboard of a local-only server is open, since every client that can reach it is on this
 * machine (the local default); the HTTP API has no sign-in without a token, so there a batch stays
 * its session's to cancel. A server reachable from beyond loopback with no token has no operator.
 */
export function isOperator(policy: OperatorPolicy, credential: OperatorCredential): boolean {
  if (policy.token !== undefined) return typeof credential.token === 'string' && isDashboardAuthorized(policy.token, credential.token);
  return credential.via === 'dashboard' && policy.localOnly;
}

/** Cancelling a batch: its own session may, and so may an operator. */
export function mayCancel(policy: OperatorPolicy, credential: OperatorCredential, ownsBatch: boolean): boolean {
  return ownsBatch || isOperator(policy, credential);
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
