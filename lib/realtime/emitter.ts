import { Emitter } from '@socket.io/postgres-emitter';
import type { Sql } from '../db/sql';
import { batchRoom, type ServerToClientEvents } from './events';

/**
 * Emits to a batch's room through the Socket.IO Postgres emitter, inside the caller's transaction.
 *
 * The emitter publishes with `pg_notify` (and, for large payloads, an insert into the attachment
 * table). Run on the transaction that records the cells, Postgres delivers the notification only
 * if and when that transaction commits: news of a cell can never precede its row, and a rolled-back
 * attempt (a lost claim, a crash) announces nothing. That is "emit after commit" with no window in
 * which a process could die between the two.
 */
export async function emitInTransaction<E extends keyof ServerToClientEvents>(
  tx: Sql,
  batchId: string,
  event: E,
  payload: Parameters<ServerToClientEvents[E]>[0],
): Promise<void> {
  const pool = new TransactionPool(tx);
  const emitter = new Emitter<ServerToClientEvents>(pool);
  // The emitter fires and forgets; the pool shim lets us wait until its statements have run,
  // so they are on the connection before the transaction's COMMIT.
  (emitter.to(batchRoom(batchId)).emit as (ev: E, p: typeof payload) => boolean)(event, payload);
  await pool.settled();
}

class TransactionPool {
  private last: Promise<unknown> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly tx: Sql) {}

  query(text: string, values?: unknown[]) {
    const result = this.tx.query(text, values);
    this.last = result.catch((err: unknown) => {
      this.failure ??= err;
    });
    return result;
  }

  /**
   * Resolves once no statement is in flight. The emitter issues its second statement (the notify
   * after an attachment insert) from the continuation of the first, which runs before ours because
   * it awaited first; so a loop until `last` stops changing sees every statement.
   */
  async settled(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.last;
      await seen;
    } while (seen !== this.last);
    if (this.failure) throw this.failure;
  }
}
