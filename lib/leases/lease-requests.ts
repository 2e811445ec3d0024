import { PublicError } from '../errors';
import { LEASE_SECONDS_MAX } from '../queue/cell-job';
import { DEFAULT_TAG, TAG_PATTERN } from '../tags';

/** The bodies of the lease API (CONTRACT.md "Leases"), checked once at the edge. */

export const LEASE_MAX_CELLS = 1000;
export const DEFAULT_LEASE = { tag: DEFAULT_TAG, max: 100, leaseSeconds: 60 } as const;
/** A lease client names itself (an extension); it shows on the dashboard as a worker. */
const WORKER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_COLOR = /^#[0-9A-Fa-f]{6}$/;
const ERROR_MAX_CHARS = 1000;
/** Base64 of a 64 × 64 RGBA PNG with no compression at all is under 23 KB; allow some slack. */
const TILE_BASE64_MAX_CHARS = 64 * 1024;

export interface LeaseRequest {
  tag: string;
  max: number;
  leaseSeconds: number;
  /** The client's own name for itself, when it gave one. */
  worker: string | undefined;
}

export type LeaseResult = { batchId: string; row: number; col: number } & (
  | { color: string; tile?: undefined; error?: undefined }
  | { tile: Buffer; color?: undefined; error?: undefined }
  | { error: string; color?: undefined; tile?: undefined }
);

export const isLeaseId = (id: string): boolean => UUID.test(id);

export function parseLeaseRequest(body: unknown): LeaseRequest {
  const fields = objectBody(body, '{"tag": "default", "max": 100, "leaseSeconds": 60}');
  onlyFields(fields, ['tag', 'max', 'leaseSeconds', 'worker']);
  const tag = fields.tag ?? DEFAULT_LEASE.tag;
  if (typeof tag !== 'string' || !TAG_PATTERN.test(tag)) {
    throw invalid('"tag" must be 1 to 32 lower-case letters, digits or hyphens, starting with a letter or digit (default "default").');
  }
  const worker = fields.worker;
  if (worker !== undefined && (typeof worker !== 'string' || !WORKER_NAME.test(worker))) {
    throw invalid('"worker" must be 1 to 64 letters, digits, dots, hyphens or underscores, starting with a letter or digit.');
  }
  return {
    tag,
    max: integer(fields, 'max', 1, LEASE_MAX_CELLS, DEFAULT_LEASE.max),
    leaseSeconds: integer(fields, 'leaseSeconds', 1, LEASE_SECONDS_MAX, DEFAULT_LEASE.leaseSeconds),
    worker,
  };
}

export function parseExtendRequest(body: unknown): { leaseSeconds: number } {
  const fields = objectBody(body, '{"leaseSeconds": 60}');
  onlyFields(fields, ['leaseSeconds']);
  if (fields.leaseSeconds === undefined) throw invalid(`"leaseSeconds" is required: an integer from 1 to ${LEASE_SECONDS_MAX}.`);
  return { leaseSeconds: integer(fields, 'leaseSeconds', 1, LEASE_SECONDS_MAX, 0) };
}

/**
 * A completion's results. Each names its cell and carries exactly one of `color`, `tile` (a base64
 * PNG, decoded later against its batch's tile size) or `error`. A cell named twice is an error of
 * the client's: it could only mean two different outcomes for one cell.
 */
export function parseCompleteRequest(body: unknown): { results: LeaseResult[] } {
  const fields = objectBody(body, '{"results": [{"batchId": "…", "row": 0, "col": 0, "color": "#1A2B3C"}]}');
  onlyFields(fields, ['results']);
  const results = fields.results;
  if (!Array.isArray(results) || results.length > LEASE_MAX_CELLS) {
    throw invalid(`"results" must be an array of at most ${LEASE_MAX_CELLS} results.`);
  }
  const seen = new Set<string>();
  return {
    results: results.map((r: unknown, i) => {
      const result = parseResult(r, i);
      const key = `${result.batchId}/${result.row}/${result.col}`;
      if (seen.has(key)) throw invalid(`results[${i}] names cell (${result.row}, ${result.col}) of batch ${result.batchId} a second time.`);
      seen.add(key);
      return result;
    }),
  };
}

function parseResult(value: unknown, i: number): LeaseResult {
  const at = `results[${i}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${at} must be an object.`);
  const r = value as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => !['batchId', 'row', 'col', 'color', 'tile', 'error'].includes(k));
  if (unknown.length > 0) throw invalid(`${at} has an unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}.`);
  if (typeof r.batchId !== 'string' || !UUID.test(r.batchId)) throw invalid(`${at}.batchId must be a batch id (a UUID).`);
  for (const key of ['row', 'col'] as const) {
    const n = r[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 999) throw invalid(`${at}.${key} must be an integer from 0 to 999.`);
  }
  const cell = { batchId: r.batchId.toLowerCase(), row: r.row as number, col: r.col as number };
  const given = (['color', 'tile', 'error'] as const).filter((k) => r[k] !== undefined);
  if (given.length !== 1) throw invalid(`${at} must carry exactly one of "color", "tile" or "error".`);
  if (given[0] === 'color') {
    if (typeof r.color !== 'string' || !HEX_COLOR.test(r.color)) throw invalid(`${at}.color must look like "#1A2B3C".`);
    return { ...cell, color: r.color.toUpperCase() };
  }
  if (given[0] === 'error') {
    if (typeof r.error !== 'string' || r.error.length === 0 || r.error.length > ERROR_MAX_CHARS) {
      throw invalid(`${at}.error must be a message of 1 to ${ERROR_MAX_CHARS} characters.`);
    }
    return { ...cell, error: r.error };
  }
  if (typeof r.tile !== 'string' || r.tile.length > TILE_BASE64_MAX_CHARS || !/^[A-Za-z0-9+/]+={0,2}$/.test(r.tile)) {
    throw invalid(`${at}.tile must be a base64 PNG of the batch's tileSize × tileSize pixels.`);
  }
  return { ...cell, tile: Buffer.from(r.tile, 'base64') };
}

function objectBody(body: unknown, example: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`The body must be a JSON object like ${example}.`);
  return body as Record<string, unknown>;
}

function onlyFields(fields: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(fields).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw invalid(
      `Unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))}; this request takes ${known.map((k) => `"${k}"`).join(', ')}.`,
    );
  }
}

function integer(fields: Record<string, unknown>, key: string, min: number, max: number, fallback: number): number {
  const v = fields[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`"${key}" must be an integer from ${min} to ${max}.`);
  return v;
}

const invalid = (message: string) => new PublicError('invalid_input', message);
