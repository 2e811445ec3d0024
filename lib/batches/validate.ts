import { PublicError } from '../errors';
import { TAG_PATTERN } from '../tags';
import { VIEW_LIMITS } from '../pictures/mandelbrot';
import type { BatchInput, PictureView } from '../types';

const DIMENSION_MAX = 1000;
const DEADLINE_MAX = 7 * 24 * 3600;
export const PRIORITY_MAX = 100;
const KNOWN_FIELDS = [
  'rows',
  'cols',
  'deadlineSeconds',
  'priority',
  'tag',
  'kind',
  'view',
  'maxIterations',
  'tileSize',
  'workMs',
  'startAt',
  'startInSeconds',
];
const PICTURE_FIELDS = ['view', 'maxIterations', 'tileSize'];
/** The contract's default picture: the whole set. */
export const DEFAULT_VIEW: PictureView = { x: -0.75, y: 0, width: 3.5 };
export const DEFAULT_MAX_ITERATIONS = 500;
export const DEFAULT_TILE_SIZE = 32;
export const DEFAULT_MAX_PIXELS = 16_777_216;
export const WORK_MS_MAX = 5000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks a `POST /api/batches` body: `rows` and `cols`, integers 1..1000, within the cell cap, and
 * optionally `deadlineSeconds`, `priority`, `tag`, `kind` with a picture's `view`, `maxIterations` and
 * `tileSize` (within the pixel cap), or a colour batch's `workMs`, and when to start (`parseStart`); nothing else.
 */
export function parseBatchInput(body: unknown, maxCells: number, maxPixels = DEFAULT_MAX_PIXELS, now = Date.now()): BatchInput {
  const input = parseBatchFields(body, maxCells, maxPixels);
  const startInSeconds = parseStart(body as Record<string, unknown>, now);
  return startInSeconds === undefined ? input : { ...input, startInSeconds };
}

function parseBatchFields(body: unknown, maxCells: number, maxPixels: number): BatchInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PublicError('invalid_input', 'The body must be a JSON object like {"rows": 20, "cols": 20}.');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !KNOWN_FIELDS.includes(key));
  if (unknown.length > 0) {
    throw new PublicError(
      'invalid_input',
      `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.slice(0, 5).map(quote).join(', ')}. Send "rows" and "cols" (and optionally "deadlineSeconds", "priority", "tag", "kind", "view", "maxIterations", "tileSize", "workMs", and "startAt" or "startInSeconds").`,
    );
  }
  const rows = dimension(fields, 'rows');
  const cols = dimension(fields, 'cols');
  if (rows * cols > maxCells) {
    throw new PublicError(
      'too_many_cells',
      `${rows} × ${cols} is ${rows * cols} cells; this server accepts at most ${maxCells} cells per batch.`,
    );
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
  if (fields.tag !== undefined) {
    if (typeof fields.tag !== 'string' || !TAG_PATTERN.test(fields.tag))
      throw new PublicError(
        'invalid_input',
        '"tag" must be 1 to 32 lowercase letters, digits or dashes, starting with a letter or digit ("default" when absent).',
      );
    input.tag = fields.tag;
  }
  const kind = fields.kind ?? 'colors';
  if (kind !== 'colors' && kind !== 'mandelbrot')
    throw new PublicError('invalid_input', '"kind" must be "colors" (the default) or "mandelbrot".');
  if (kind === 'mandelbrot') {
    if (fields.workMs !== undefined)
      throw new PublicError('invalid_input', '"workMs" is for colour batches; a picture\'s work is its rendering.');
    const tileSize = integerField(
      fields,
      'tileSize',
      DEFAULT_TILE_SIZE,
      VIEW_LIMITS.minTileSize,
      VIEW_LIMITS.maxTileSize,
      'pixels on a side of each tile',
    );
    const pixels = rows * cols * tileSize * tileSize;
    if (pixels > maxPixels) {
      throw new PublicError(
        'too_many_pixels',
        `${cols * tileSize} × ${rows * tileSize} is ${pixels} pixels; this server renders at most ${maxPixels} pixels per picture. Use fewer cells or a smaller "tileSize".`,
      );
    }
    return {
      ...input,
      kind,
      view: parseView(fields.view),
      maxIterations: integerField(
        fields,
        'maxIterations',
        DEFAULT_MAX_ITERATIONS,
        VIEW_LIMITS.minIterations,
        VIEW_LIMITS.maxIterations,
        'iterations per pixel',
      ),
      tileSize,
    };
  }
  const misplaced = PICTURE_FIELDS.filter((key) => fields[key] !== undefined);
  if (misplaced.length > 0)
    throw new PublicError(
      'invalid_input',
      `${misplaced.map(quote).join(', ')} only apply to pictures: send "kind": "mandelbrot" with them.`,
    );
  if (fields.kind !== undefined) input.kind = 'colors';
  if (fields.workMs !== undefined)
    input.workMs = integerField(fields, 'workMs', 0, 0, WORK_MS_MAX, 'milliseconds of simulated work per cell');
  return input;
}

/** How far ahead a batch may be started: 7 days, in seconds. */
export const START_MAX_SECONDS = 7 * 24 * 3600;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `startAt` (an ISO 8601 time with its offset, at most 7 days ahead) or `startInSeconds` (an integer
 * 0..604800), not both, as seconds from `now`; undefined when neither is given. A `startAt` that has
 * already passed starts the batch at once rather than failing: the client's clock and ours may
 * disagree by a few seconds, and "start at 12:00" sent at 12:00:01 means "now".
 */
function parseStart(fields: Record<string, unknown>, now: number): number | undefined {
  const { startAt, startInSeconds } = fields;
  if (startAt !== undefined && startInSeconds !== undefined)
    throw new PublicError('invalid_input', 'Send "startAt" or "startInSeconds", not both.');
  if (startInSeconds !== undefined) {
    if (
      typeof startInSeconds !== 'number' ||
      !Number.isInteger(startInSeconds) ||
      startInSeconds < 0 ||
      startInSeconds > START_MAX_SECONDS
    ) {
      throw new PublicError('invalid_input', `"startInSeconds" must be an integer from 0 (now) to ${START_MAX_SECONDS} (7 days).`);
    }
    return startInSeconds;
  }
  if (startAt === undefined) return undefined;
  const hint = 'an ISO 8601 time with its offset, like "2026-12-03T14:00:00Z", at most 7 days ahead';
  if (typeof startAt !== 'string' || !ISO_TIME.test(startAt)) throw new PublicError('invalid_input', `"startAt" must be ${hint}.`);
  const at = Date.parse(startAt);
  if (!Number.isFinite(at)) throw new PublicError('invalid_input', `"startAt" is not a real time; it must be ${hint}.`);
  const seconds = (at - now) / 1000;
  if (seconds > START_MAX_SECONDS) throw new PublicError('invalid_input', `"startAt" is more than 7 days ahead; it must be ${hint}.`);
  return Math.max(0, Math.round(seconds * 1000) / 1000);
}

/** A picture input with the contract's defaults filled in (for callers that skip parseBatchInput, such as scripts). */
export function withPictureDefaults(input: BatchInput): BatchInput {
  if (input.kind !== 'mandelbrot') return input;
  return {
    ...input,
    view: input.view ?? { ...DEFAULT_VIEW },
    maxIterations: input.maxIterations ?? DEFAULT_MAX_ITERATIONS,
    tileSize: input.tileSize ?? DEFAULT_TILE_SIZE,
  };
}

function integerField(fields: Record<string, unknown>, name: string, fallback: number, min: number, max: number, what: string): number {
  const value = fields[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PublicError('invalid_input', `"${name}" must be an integer from ${min} to ${max} (${what}; default ${fallback}).`);
  }
  return value;
}

/** A picture's `view`: finite x and y within ±4 and a width from 1e-13 to 8; absent, the whole set. */
function parseView(raw: unknown): PictureView {
  if (raw === undefined) return { ...DEFAULT_VIEW };
  const hint = 'like {"x": -0.75, "y": 0, "width": 3.5}: finite numbers, |x| and |y| at most 4, width from 1e-13 to 8';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new PublicError('invalid_input', `"view" must be an object ${hint}.`);
  const view = raw as Record<string, unknown>;
  const extra = Object.keys(view).filter((key) => !['x', 'y', 'width'].includes(key));
  if (extra.length > 0)
    throw new PublicError(
      'invalid_input',
      `"view" has unknown field${extra.length > 1 ? 's' : ''} ${extra.slice(0, 5).map(quote).join(', ')}; it takes x, y and width.`,
    );
  const { x, y, width } = view;
  const { maxAbsCenter, minWidth, maxWidth } = VIEW_LIMITS;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (
    !finite(x) ||
    !finite(y) ||
    Math.abs(x) > maxAbsCenter ||
    Math.abs(y) > maxAbsCenter ||
    !finite(width) ||
    width < minWidth ||
    width > maxWidth
  ) {
    throw new PublicError('invalid_input', `"view" must be ${hint}.`);
  }
  return { x, y, width };
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
