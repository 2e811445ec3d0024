/**
 * Flood limits for one socket's `batch:join`s. Each join costs Postgres reads, so a socket gets a
 * token bucket: `burst` joins at once, refilled at `perSecond`. A join without a token is refused
 * (the ack says `rate_limited`) and adds a strike; strikes fade at one a second, and a socket that
 * gathers `strikesToDisconnect` of them keeps flooding on purpose and is disconnected. The state
 * lives with the connection it limits, so it needs nothing shared between web servers.
 */
export interface JoinLimits {
  burst: number;
  perSecond: number;
  /** Batch rooms one socket may be in at once. */
  maxBatches: number;
  strikesToDisconnect: number;
}

// A page joins once per batch it shows and rejoins now and then to catch up: far below these.
export const DEFAULT_JOIN_LIMITS: Readonly<JoinLimits> = Object.freeze({
  burst: 20,
  perSecond: 5,
  maxBatches: 50,
  strikesToDisconnect: 50,
});

export type JoinVerdict = 'ok' | 'refused' | 'disconnect';

export function createJoinLimiter(limits: JoinLimits, now: () => number = Date.now): () => JoinVerdict {
  let tokens = limits.burst;
  let strikes = 0;
  let last = now();
  return () => {
    const t = now();
    const elapsed = Math.max(0, t - last) / 1000;
    last = t;
    tokens = Math.min(limits.burst, tokens + elapsed * limits.perSecond);
    strikes = Math.max(0, strikes - elapsed);
    if (tokens >= 1) {
      tokens -= 1;
      return 'ok';
    }
    strikes += 1;
    return strikes >= limits.strikesToDisconnect ? 'disconnect' : 'refused';
  };
}
