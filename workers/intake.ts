import type { WorkerDesired } from '../lib/db/workers';
import { every } from '../lib/lifecycle';
import type { Logger } from '../lib/log';

export interface IntakeDeps {
  /** Whether intake is paused for all workers (the control row). */
  readPaused(): Promise<boolean>;
  /** What an operator asked of this worker alone (its row): run, paused or draining. */
  readDesired(): Promise<WorkerDesired>;
  /** Starts fetching cell jobs. */
  startWork(): Promise<void>;
  /** Stops fetching cell jobs and resolves once the ones in hand have finished. */
  stopWork(): Promise<void>;
  /** Records on this worker's row whether it has stopped. */
  recordPaused(paused: boolean): Promise<void>;
  /** Called once, when a drain has finished what was in hand: begins the process's orderly shutdown. */
  drained(): void;
}

/**
 * Follows the intake switch that the dashboard flips for every worker, and what an operator asked
 * of this worker alone: fetches cell jobs while both let it, and otherwise fetches none (what is in
 * hand finishes first). Only the cell queues: dead letters are still recorded, so batches whose
 * cells fail still finish. Asked to drain, it stops fetching, lets what it holds finish, and hands
 * over to the process's shutdown (which exits 0 and marks the row stopped); that is final. Both
 * live in Postgres and each worker reads them every second; nothing is pushed to workers.
 */
export class IntakeFollower {
  private working = false;
  private recorded: boolean | undefined;
  private drained = false;

  constructor(
    private readonly deps: IntakeDeps,
    private readonly log: Logger,
  ) {}

  /** Brings this worker in line with the switch and its own steering, and its row in line with what it does. */
  async sync(): Promise<void> {
    if (this.drained) return;
    const [intakePaused, desired] = await Promise.all([this.deps.readPaused(), this.deps.readDesired()]);
    if (desired === 'draining') return this.drain();
    const paused = intakePaused || desired === 'paused';
    const why = desired === 'paused' ? 'paused by an operator' : 'intake paused';
    if (paused && this.working) {
      await this.deps.stopWork();
      this.working = false;
      this.log.info(`${why}: fetching no more cell jobs`, { intakePaused, desired });
    } else if (!paused && !this.working) {
      await this.deps.startWork();
      if (this.recorded !== undefined) this.log.info('intake resumed: fetching cell jobs');
      this.working = true;
    }
    if (this.recorded !== !this.working) {
      await this.deps.recordPaused(!this.working);
      this.recorded = !this.working;
    }
  }

  private async drain(): Promise<void> {
    if (this.working) {
      this.log.info('draining: fetching no more cell jobs, finishing those in hand, then exiting');
      await this.deps.stopWork();
      this.working = false;
    }
    this.drained = true;
    this.log.info('drained: nothing left in hand; stopping');
    this.deps.drained();
  }
}

/** Syncs once (a failure fails the worker's start), then every `intervalMs` until stopped. */
export async function followIntake(deps: IntakeDeps, log: Logger, intervalMs = 1000): Promise<() => Promise<void>> {
  const follower = new IntakeFollower(deps, log);
  await follower.sync();
  return every(intervalMs, async () => {
    try {
      await follower.sync();
    } catch (err) {
      log.warn('intake check failed; trying again', { err });
    }
  });
}
