import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createPool } from '../../lib/db/pool';
import { startEmbeddedPostgres } from '../../lib/db/embedded';
import { createLogger } from '../../lib/log';
import { config } from '../../lib/config';
import { cellQueueSettings, prepareDatabase } from '../../lib/queue/prepare-database';
import { freePort } from '../../scripts/ports';

export const TEMPLATE_DB = 'finishline_template';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    /** A superuser of the same server, for dropping a test's database even while autovacuum works in it. */
    pgSuperUrl: string;
  }
}

/**
 * One real PostgreSQL for the whole run: TEST_DATABASE_URL's server if given (a role that may
 * create databases), else an embedded one in a private temporary folder. A template database is
 * migrated once; every test file copies it into a database of its own.
 */
export default async function setup(project: TestProject) {
  const log = createLogger({ proc: 'test-setup' }, 'warn');
  let adminUrl = process.env.TEST_DATABASE_URL;
  let superUrl = adminUrl;
  let stop = async () => undefined as void;
  if (!adminUrl) {
    const dir = await mkdtemp(path.join(tmpdir(), 'finishline-test-'));
    // The app's own role (no superuser), allowed to create databases: every test file copies the
    // template into a database of its own, and runs with the app's privileges.
    const server = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'pg'),
      port: await freePort(),
      database: 'postgres',
      appMayCreateDatabases: true,
    });
    adminUrl = server.url;
    superUrl = server.adminUrl;
    stop = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.query(`create database ${TEMPLATE_DB}`);
  await admin.end();
  const templateUrl = withDatabase(adminUrl, TEMPLATE_DB);
  const pool = createPool(templateUrl, 2, log, 'finish-line-test-setup');
  await prepareDatabase(pool, templateUrl, log, cellQueueSettings(config()));
  await pool.end();

  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgSuperUrl', superUrl ?? adminUrl);
  return stop;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
