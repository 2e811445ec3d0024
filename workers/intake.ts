import { every } from '../lib/lifecycle';
import type { Logger } from '../lib/log';

export interface IntakeDeps {
  /** Whether intake is paused for all workers (the control row). */
  readPaused(): Promise<boolean>;
  /** Starts fetching cell jobs. */
  startWork(): Promise<void>;
  /** Stops fetching cell jobs and resolves once the ones in hand have finished. */
  stopWork(): Promise<void>;
  /** Records on this worker's row whether it has stopped. */
  recordPaused(paused: boolean): Promise<void>;
}

/**
 * Follows the intake switch that the dashboard flips: fetches cell jobs while it is on, and while
 * it is off fetches none (what is in hand finishes first). Only the cell queue: dead letters are
 * still recorded, so batches whose cells fail still finish. The switch lives in Postgres and each
 * worker reads it every second; nothing is pushed to workers.
 */
export class IntakeFollower {
  private working = false;
  private recorded: boolean | undefined;

  constructor(
    private readonly deps: IntakeDeps,
    private readonly log: Logger,
  ) {}

  /** Brings this worker in line with the switch, and its row in line with what it does. */
  async sync(): Promise<void> {
    const paused = await this.deps.readPaused();
    if (paused && this.working) {
      await this.deps.stopWork();
      this.working = false;
      this.log.info('intake paused: fetching no more cell jobs');
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
