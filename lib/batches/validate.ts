import { PublicError } from '../errors';
import type { BatchInput } from '../types';

const DIMENSION_MAX = 1000;
const DEADLINE_MAX = 7 * 24 * 3600;
export const PRIORITY_MAX = 100;
const KNOWN_FIELDS = ['rows', 'cols', 'deadlineSeconds', 'priority'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks a `POST /api/batches` body: `rows` and `cols`, integers 1..1000, within the cell cap, and
 * optionally `deadlineSeconds` and `priority`; nothing else.
 */
export function parseBatchInput(body: unknown, maxCells: number): BatchInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PublicError('invalid_input', 'The body must be a JSON object like {"rows": 20, "cols": 20}.');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.includes(key));
  if (unknown.length > 0) {
    throw new PublicError('invalid_input', `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 5).map(quote).join(', ')}. Send "rows" and "cols" (and optionally "deadlineSeconds" and "priority").`);
  }
  const rows = dimension(fields, 'rows');
  const cols = dimension(fields, 'cols');
  if (rows * cols > maxCells) {
    throw new PublicError('too_many_cells', `${rows} × ${cols} is ${rows * cols} cells; this server accepts at most ${maxCells} cells per batch.`);
  }
  const input: BatchInput = { rows, cols };
  const deadline = fields.deadlineSeconds;
  if (deadline !== undefined) {
    if (typeof deadline !== 'number' || !Number.isInteger(deadline) || deadline < 1 || deadline > DEADLINE_MAX) {
      throw new PublicError('invalid_input', `"deadlineSeconds" must be an integer from 1 to ${DEADLINE_MAX} (7 days).`);
    }
    input.deadlineSeconds = deadline;
  }
  const priority = fields.priority;
  if (priority !== undefined) {
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > PRIORITY_MAX) {
      throw new PublicError('invalid_input', `"priority" must be an integer from 0 (the default) to ${PRIORITY_MAX}; higher goes first.`);
    }
    input.priority = priority;
  }
  return input;
}

function dimension(fields: Record<string, unknown>, name: 'rows' | 'cols'): number {
  const value = fields[name];
  if (value === undefined) {
    throw new PublicError('invalid_input', `"${name}" is missing: give it as an integer from 1 to ${DIMENSION_MAX}.`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > DIMENSION_MAX) {
    throw new PublicError('invalid_input', `"${name}" must be an integer from 1 to ${DIMENSION_MAX}.`);
  }
  return value;
}

function quote(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/** Batch ids are UUIDs; anything else is simply not found (never a database error). */
export function isBatchId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

/** `?limit=N` for the batch list: 1..100, default 20. */
export function parseListLimit(raw: string | null): number {
  if (raw === null) return 20;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(value) || value < 1 || value > 100) {
    throw new PublicError('invalid_input', '"limit" must be an integer from 1 to 100.');
  }
  return value;
}

/** `Idempotency-Key`: absent, or 1..200 visible ASCII characters. */
export function parseIdempotencyKey(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  if (!/^[\x21-\x7E]{1,200}$/.test(raw)) {
    throw new PublicError('invalid_input', 'The Idempotency-Key header must be 1 to 200 visible ASCII characters (no spaces).');
  }
  return raw;
}
