import { config } from '../../lib/config';
import { createPool } from '../../lib/db/pool';
import { createLogger } from '../../lib/log';

/**
 * A stand-in for a web server caught between a batch-row update and its commit: takes the row lock
 * of batch `argv[2]` in a transaction on a pool made like the web server's (same `createPool`, same
 * settings from the environment), says `locked` on stdout, and then does nothing. The test freezes it
 * with SIGSTOP. Run with `node --import tsx tests/helpers/hold-batch-lock.ts <batchId>`.
 */
const batchId = process.argv[2];
const cfg = config();
const pool = createPool(
  cfg.databaseUrl!,
  1,
  createLogger({ proc: 'lock-holder' }, 'silent'),
  'finish-line-web',
  undefined,
  cfg.dbSessionTimeouts,
);
const client = await pool.connect();
client.on('error', () => undefined);
await client.query('begin');
await client.query('update batches set seq = seq where id = $1', [batchId]);
process.stdout.write(`locked ${(await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid}\n`);
setInterval(() => undefined, 60_000);
