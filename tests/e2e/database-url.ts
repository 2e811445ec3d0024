import { readCredentials } from '../../lib/db/embedded-credentials';

/** The embedded PostgreSQL of the app under test (playwright.config.ts: PG_DATA_DIR, E2E_PG_PORT). */
export const E2E_PG_DATA_DIR = '.data/e2e/postgres';

/**
 * A connection URL for the app's database under test, with the app role's password, which the
 * embedded server generated at its first start and keeps in its data folder; or E2E_DATABASE_URL.
 */
export async function e2eDatabaseUrl(): Promise<string> {
  if (process.env.E2E_DATABASE_URL) return process.env.E2E_DATABASE_URL;
  const credentials = await readCredentials(E2E_PG_DATA_DIR);
  if (!credentials) throw new Error(`No embedded PostgreSQL credentials in ${E2E_PG_DATA_DIR}: has the app under test started?`);
  const { user, password } = credentials.app;
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${process.env.E2E_PG_PORT ?? '25439'}/finishline`;
}
