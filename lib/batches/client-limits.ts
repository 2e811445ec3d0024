import { tryLockClient } from '../db/admission';
import { clientUsage, findBatchByIdempotencyKey } from '../db/batches';
import type { Sql } from '../db/sql';
import { PublicError } from '../errors';
import type { Batch } from '../types';

/** Who asks for a batch, as the API sees it, and what that client may still do. */
export interface BatchClient {
  /** Hash of the client's address (its IPv4 address or IPv6 /64). */
  key: string;
  /** Hash of the session cookie; the batch's owner. */
  session: string;
  limits: { perMinute: number; running: number };
}

/**
 * Another creation of the same client holds its lock right now. Not for clients as is: the caller
 * tries again shortly, without holding a connection, and answers `contendedError()` when that fails.
 */
export class ClientContended extends Error {
  override name = 'ClientContended';
  constructor(readonly clientKey: string) {
    super(`Another batch creation of client ${clientKey.slice(0, 12)}… holds its lock`);
  }
}

/** What a client hears when its own parallel creations kept the lock from it for too long. */
export function contendedError(): PublicError {
  return new PublicError(
    'rate_limited',
    'Your other batch creations are still being admitted; send them one at a time, or try again in 1 s.',
    {
      headers: { 'retry-after': '1' },
    },
  );
}

const WINDOW_SECONDS = 60;
// How soon to try again when too many batches run: unknown in general; most batches end in seconds.
const RUNNING_RETRY_SECONDS = 5;

/**
 * The limits, read without any lock and before any connection is taken for the work: a replay of an
 * Idempotency-Key is answered with its batch, and a client already at a limit gets its 429 at once.
 * A burst of refused POSTs so costs one short read each and never waits on a lock. Its answer may be
 * stale by the time the batch is written, so `admitClient` checks again under the client's lock.
 */
export async function precheckClient(sql: Sql, client: BatchClient, idempotencyKey: string | undefined): Promise<Batch | null> {
  if (idempotencyKey !== undefined) {
    const replay = await findBatchByIdempotencyKey(sql, idempotencyKey);
    if (replay) return replay;
  }
  await assertUnderLimits(sql, client);
  return null;
}

/**
 * Admits one batch creation for `client`, inside the transaction that would create it. The client's
 * advisory lock serializes its creations across every web server, so the counts read here stay true
 * until this transaction ends; it is only ever tried, never waited for (`ClientContended` when
 * another creation of this client holds it). A replay of an Idempotency-Key the client already used
 * is answered with that batch and counts as nothing new. Over a limit it throws a 429 error with
 * `Retry-After`, and nothing is created.
 */
export async function admitClient(tx: Sql, client: BatchClient, idempotencyKey: string | undefined): Promise<Batch | null> {
  if (!(await tryLockClient(tx, client.key))) throw new ClientContended(client.key);
  if (idempotencyKey !== undefined) {
    const replay = await findBatchByIdempotencyKey(tx, idempotencyKey);
    if (replay) return replay;
  }
  await assertUnderLimits(tx, client);
  return null;
}

async function assertUnderLimits(sql: Sql, client: BatchClient): Promise<void> {
  const usage = await clientUsage(sql, client.key, WINDOW_SECONDS);
  if (usage.recent >= client.limits.perMinute) {
    throw new PublicError(
      'rate_limited',
      `You started ${usage.recent} batches in the last minute, the most this server allows; try again in ${usage.windowFreesInSeconds} s.`,
      { headers: { 'retry-after': String(usage.windowFreesInSeconds) } },
    );
  }
  if (usage.running >= client.limits.running) {
    throw new PublicError(
      'too_many_running',
      `You have ${usage.running} batches running, the most this server allows at once; wait for one to finish, or cancel one.`,
      { headers: { 'retry-after': String(RUNNING_RETRY_SECONDS) } },
    );
  }
}
