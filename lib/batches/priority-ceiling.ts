import { PublicError } from '../errors';

/**
 * Priorities above `ceiling` (`MAX_PUBLIC_PRIORITY`) are for operators: a high-priority batch takes
 * the workers before everyone else's queued cells, so a stranger may not ask for one. Refused with
 * `403 forbidden` (the request is well formed; this caller may not make it), and nothing is created.
 */
export function assertPriorityAllowed(priority: number | undefined, ceiling: number, isOperator: boolean): void {
  if (priority === undefined || priority <= ceiling || isOperator) return;
  throw new PublicError(
    'forbidden',
    `Priorities above ${ceiling} are for operators: send a "priority" from 0 to ${ceiling}, or the operator token as "Authorization: Bearer <token>".`,
  );
}
