import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError } from './errors';

/**
 * Polls `condition` every `everyMs` until it holds. `check` runs between polls and throws when
 * something the wait depends on has died (the app exited), so a wait never outlasts its cause.
 */
export type WaitUntil = (
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs?: number,
  check?: () => void,
) => Promise<void>;

/** A WaitUntil that also fails at `deadline`, the whole bench's limit of `limitMinutes`, whichever comes first. */
export function waitWithin(deadline: number, limitMinutes: number): WaitUntil {
  return async (what, condition, timeoutMs, everyMs = 20, check) => {
    const until = Math.min(Date.now() + timeoutMs, deadline);
    while (!(await condition())) {
      check?.();
      if (Date.now() > until) {
        throw new BenchError(
          Date.now() > deadline
            ? `the whole bench ran past its limit of ${limitMinutes} minutes while waiting for ${what}`
            : `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`,
        );
      }
      await sleep(everyMs);
    }
  };
}
