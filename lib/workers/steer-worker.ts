import type { Sql } from '../db/sql';
import { findWorker, setWorkerDesired, type WorkerDesired, type WorkerInfo } from '../db/workers';
import { PublicError } from '../errors';

/** The operator's three requests to one worker, and what each asks of it. */
export const STEER_ACTIONS = { pause: 'paused', resume: 'run', drain: 'draining' } as const satisfies Record<string, WorkerDesired>;
export type SteerAction = keyof typeof STEER_ACTIONS;

export function isSteerAction(action: unknown): action is SteerAction {
  return typeof action === 'string' && Object.hasOwn(STEER_ACTIONS, action);
}

/**
 * Pauses, resumes or drains one worker, for `POST /api/workers/:id/<action>` and the dashboard
 * alike. The worker picks the request up at its next intake check (within a second or two); the
 * answer is its row right after the request was recorded. Refused, changing nothing, for a worker
 * that has stopped (nothing is there to obey) and, but for another drain, for one draining (a drain
 * is final: it may already be on its way out).
 */
export async function steerWorker(sql: Sql, id: string, action: SteerAction, deadAfterSeconds: number): Promise<WorkerInfo> {
  const recorded = await setWorkerDesired(sql, id, STEER_ACTIONS[action]);
  const worker = await findWorker(sql, id, deadAfterSeconds);
  if (!worker) throw new PublicError('not_found', 'No worker has this id.');
  if (recorded) return worker;
  if (worker.status === 'stopped') {
    throw new PublicError('already_finished', `Worker ${id} has stopped; there is nothing to ${action}. Start it again to steer it.`);
  }
  throw new PublicError(
    'already_finished',
    `Worker ${id} is draining: it takes nothing more and exits once it has finished; a drain cannot be undone.`,
  );
}
