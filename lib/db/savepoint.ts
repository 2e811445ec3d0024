import type { Sql } from './sql';

/**
 * Runs `fn` inside a savepoint of the caller's transaction: when it throws an error `absorbs`
 * accepts, its statements are rolled back, `fallback` is returned and the transaction goes on (a
 * failed statement would otherwise abort the whole transaction); any other error is rethrown.
 */
export async function withSavepoint<T, F>(tx: Sql, fn: () => Promise<T>, absorbs: (err: unknown) => boolean, fallback: F): Promise<T | F> {
  await tx.query('savepoint finish_line_step');
  try {
    const result = await fn();
    await tx.query('release savepoint finish_line_step');
    return result;
  } catch (err) {
    if (!absorbs(err)) throw err;
    await tx.query('rollback to savepoint finish_line_step');
    return fallback;
  }
}
