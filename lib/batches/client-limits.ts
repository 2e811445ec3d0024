import { clientUsage, findBatchByIdempotencyKey, lockClient } from '../db/batches';
import type { Sql } from '../db/sql';
import { PublicError } from '../errors';
import type { Batch } from '../types';

/** Who asks for a batch, as the API sees it, and what that client may still do. */
export interface BatchClient {
  /** Hash of the client's address. */
  key: string;
  /** Hash of the session cookie; the batch's owner. */
  session: string;
  limits: { perMinute: number; running: number };
}

const WINDOW_SECONDS = 60;
// How soon to try again when too many batches run: unknown in general; most batches end in seconds.
const RUNNING_RETRY_SECONDS = 5;

/**
 * Admits one batch creation for `client`, inside the transaction that would create it. The
 * client's advisory lock serializes its creations across every web server, so the counts read here
 * stay true until this transaction ends. A replay of an Idempotency-Key the client already used is
 * answered with that batch and counts as nothing new. Over a limit it throws a 429 error with
 * `Retry-After`, and nothing is created.
 */
export async function admitClient(tx: Sql, client: BatchClient, idempotencyKey: string | undefined): Promise<Batch | null> {
  await lockClient(tx, client.key);
  if (idempotencyKey !== undefined) {
    const replay = await findBatchByIdempotencyKey(tx, idempotencyKey);
    if (replay) return replay;
  }
  const usage = await clientUsage(tx, client.key, WINDOW_SECONDS);
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
  return null;
}
