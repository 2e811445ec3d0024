import type { LogLevel } from './config';
import { createLogger, type Fields, type Logger } from './log';

type Stop = () => Promise<void> | void;

/**
 * Ordered shutdown for one process. Each resource registers its stop step where it is created;
 * steps run in reverse order of registration, each one even if an earlier one failed.
 */
export class Lifecycle {
  private readonly steps: { name: string; stop: Stop }[] = [];
  private stopping: Promise<void> | undefined;
  private requested: ((reason: string) => void) | undefined;

  constructor(private readonly log: Logger) {}

  onStop(name: string, stop: Stop): void {
    this.steps.push({ name, stop });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.stop();
        } catch (err) {
          this.log.warn('shutdown step failed', { step: step.name, err });
        }
      }
    })();
    return this.stopping;
  }

  /**
   * Ends `untilSignal` as a signal would: the process stops in order and exits 0. For a process
   * that decides itself that its work is over (a drained worker).
   */
  requestStop(reason: string): void {
    this.requested?.(reason);
  }

  /** Resolves on the first SIGINT or SIGTERM, on `requestStop`, or when the parent process that started us goes away. */
  untilSignal(): Promise<string> {
    return new Promise((resolve) => {
      const done = (reason: string) => resolve(reason);
      this.requested = done;
      process.once('SIGINT', () => done('SIGINT'));
      process.once('SIGTERM', () => done('SIGTERM'));
      // Started by the start script over IPC: if it dies without signalling us, don't linger.
      if (process.send) process.once('disconnect', () => done('parent exited'));
    });
  }
}

/**
 * The shape of every process's `main()`: start resources (each registering its stop step), wait
 * for a signal, stop them in reverse order, exit. A failed start stops what did start, then exits 1.
 * `logLevel` reads the level from the process's configuration; it is called here, so that a bad
 * configuration is logged as a failed start like any other.
 */
export function runProcess(
  identity: { proc: string; name: string; fields?: Fields; logLevel?: () => LogLevel },
  start: (life: Lifecycle, log: Logger) => Promise<void>,
): void {
  let level: LogLevel = 'info';
  let unreadable: unknown;
  try {
    level = identity.logLevel?.() ?? level;
  } catch (err) {
    unreadable = err;
  }
  const log = createLogger({ proc: identity.proc, ...identity.fields }, level);
  const life = new Lifecycle(log);
  const signal = life.untilSignal();
  void (async () => {
    try {
      if (unreadable) throw unreadable;
      assertNodeVersion();
      await start(life, log);
    } catch (err) {
      log.error(`${identity.name} failed to start`, { err });
      await life.stop();
      process.exit(1);
    }
    const reason = await signal;
    log.info(`${identity.name} stopping`, { reason });
    await life.stop();
    log.info(`${identity.name} stopped`);
    process.exit(0);
  })();
}

/**
 * Runs `task` every `intervalMs`, never two runs at once (a slow run delays the next), until the
 * returned stop is called; stop waits for a run in progress. `task` handles its own errors.
 */
export function every(intervalMs: number, task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = task().finally(() => (busy = false));
  }, intervalMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** The oldest Node.js the project runs on (package.json `engines`). */
const NODE_MAJOR_MIN = 22;

/**
 * Refuses an old Node.js with a sentence instead of a failure far away (render threads, for one,
 * cannot load TypeScript on Node 20 and picture cells would retry for ever).
 */
export function assertNodeVersion(version = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (major < NODE_MAJOR_MIN) {
    throw new Error(
      `Finish Line needs Node.js ${NODE_MAJOR_MIN}.12 or newer and this is ${version}. It brings Node.js 24 itself: start it through npm (npm start, npm run worker, npm run web), which puts that one first on PATH.`,
    );
  }
}
