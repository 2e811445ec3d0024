import { PublicError } from '../errors';
import type { BatchInput } from '../types';
import { DEFAULT_MAX_PIXELS, parseBatchInput } from './validate';

/**
 * Checks a `POST /api/schedules` body: `{"name", "cron", "timezone", "batch"}` and nothing else.
 * - `name`: a slug, `^[a-z0-9][a-z0-9-]{0,62}$` (it names the schedule in URLs and idempotency keys);
 * - `cron`: five fields (minute hour day-of-month month day-of-week): pg-boss sends at most one job
 *   a minute per schedule, so a sixth, seconds field could not be honoured;
 * - `timezone`: an IANA zone name such as `UTC` or `Europe/Paris`;
 * - `batch`: a `POST /api/batches` body without `startAt` / `startInSeconds` (a tick starts now).
 * `nextRun` reads the cron in its zone (pg-boss's own parser, so what is accepted here is exactly
 * what its scheduler evaluates) and throws on what it cannot read.
 */
export interface ScheduleInput {
  name: string;
  cron: string;
  timezone: string;
  batch: BatchInput;
  nextRunAt: Date;
}

export const SCHEDULE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const FIELDS = ['name', 'cron', 'timezone', 'batch'];
const CRON_FIELD = /^[0-9A-Za-z*?,/#-]+$/;
const ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/;

export function parseScheduleInput(
  body: unknown,
  limits: { maxCells: number; maxPixels?: number },
  nextRun: (cron: string, timezone: string) => Date,
): ScheduleInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PublicError(
      'invalid_input',
      'The body must be a JSON object like {"name": "every-5-min", "cron": "*/5 * * * *", "timezone": "UTC", "batch": {"rows": 20, "cols": 20}}.',
    );
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.includes(key));
  if (unknown.length > 0) {
    throw new PublicError(
      'invalid_input',
      `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 5).map(quote).join(', ')}. Send "name", "cron", "timezone" and "batch".`,
    );
  }
  const name = parseScheduleName(fields.name);
  const { cron, timezone } = fields;
  if (typeof cron !== 'string' || !isFiveFieldCron(cron)) {
    throw new PublicError(
      'invalid_input',
      '"cron" must be a cron expression of five fields (minute hour day-of-month month day-of-week), like "*/5 * * * *"; the finest step is a minute.',
    );
  }
  if (typeof timezone !== 'string' || !isTimeZone(timezone)) {
    throw new PublicError('invalid_input', '"timezone" must be an IANA time zone name, like "UTC" or "Europe/Paris".');
  }
  const raw = fields.batch;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PublicError(
      'invalid_input',
      '"batch" must be an object with the fields of POST /api/batches, like {"rows": 20, "cols": 20}.',
    );
  }
  if ('startAt' in raw || 'startInSeconds' in raw) {
    throw new PublicError(
      'invalid_input',
      'A schedule\'s "batch" takes no "startAt" or "startInSeconds": each tick starts its batch at once.',
    );
  }
  const batch = parseBatchInput(raw, limits.maxCells, limits.maxPixels ?? DEFAULT_MAX_PIXELS);
  let nextRunAt: Date;
  try {
    nextRunAt = nextRun(cron.trim(), timezone);
  } catch (err) {
    throw new PublicError('invalid_input', `"cron" cannot be read: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
  }
  if (!(nextRunAt instanceof Date) || Number.isNaN(nextRunAt.getTime())) {
    throw new PublicError('invalid_input', '"cron" never comes round: give an expression that matches a real date.');
  }
  return { name, cron: cron.trim().split(/\s+/).join(' '), timezone, batch, nextRunAt };
}

/** A schedule's name, from a body or a URL: the slug, or 400 invalid_input. */
export function parseScheduleName(raw: unknown): string {
  if (typeof raw !== 'string' || !SCHEDULE_NAME.test(raw)) {
    throw new PublicError(
      'invalid_input',
      '"name" must be 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit (like "every-5-min").',
    );
  }
  return raw;
}

function isFiveFieldCron(cron: string): boolean {
  const parts = cron.trim().split(/\s+/);
  return cron.length <= 200 && parts.length === 5 && parts.every((part) => CRON_FIELD.test(part));
}

function isTimeZone(zone: string): boolean {
  if (zone.length > 64 || !ZONE.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function quote(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}
