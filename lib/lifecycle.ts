import type { Logger } from './log';

type Stop = () => Promise<void> | void;

/**
 * Ordered shutdown for one process. Each resource registers its stop step where it is created;
 * steps run in reverse order of registration, each one even if an earlier one failed.
 */
export class Lifecycle {
  private readonly steps: { name: string; stop: Stop }[] = [];
  private stopping: Promise<void> | undefined;

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

  /** Resolves on the first SIGINT or SIGTERM, or when the parent process that started us goes away. */
  untilSignal(): Promise<string> {
    return new Promise((resolve) => {
      const done = (reason: string) => resolve(reason);
      process.once('SIGINT', () => done('SIGINT'));
      process.once('SIGTERM', () => done('SIGTERM'));
      // Started by the start script over IPC: if it dies without signalling us, don't linger.
      if (process.send) process.once('disconnect', () => done('parent exited'));
    });
  }
}
