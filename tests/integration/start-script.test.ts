import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/db';
import { childProcessesOf } from '../../scripts/child-process';
import { freePort, freePortRun } from '../../scripts/ports';
import { isAlive } from '../helpers/processes';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface LogLine {
  msg: string;
  proc?: string;
  [key: string]: unknown;
}

let start: ChildProcess;
const lines: LogLine[] = [];
let port: number;
let dataDir: string;
let exitCode: number | null | undefined;

const logged = (msg: string, proc?: string) => lines.filter((l) => l.msg === msg && (!proc || l.proc === proc));

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'finishline-start-'));
  await chmod(dir, 0o755);
  dataDir = dir;
  // Two web servers: PORT and PORT+1.
  port = await freePortRun(2);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    WEB_SERVERS: '2',
    WORKERS: '2',
    PG_PORT: String(await freePort()),
    PG_DATA_DIR: path.join(dir, 'pg'),
    LOG_LEVEL: 'info',
  };
  delete env.DATABASE_URL;
  start = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buffer = '';
  start.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const part of parts) {
      if (part.startsWith('{')) lines.push(JSON.parse(part) as LogLine);
    }
  });
  start.once('exit', (code) => (exitCode = code));
  await waitFor(() => logged('finish line is up').length > 0, 'the start script to report the app up', 180_000);
});

afterAll(async () => {
  if (exitCode === undefined) start.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start (the start script)', () => {
  it('serves the app with embedded PostgreSQL on two web servers and runs worker processes named as workers', async () => {
    for (const p of [port, port + 1]) expect((await fetch(`http://127.0.0.1:${p}/healthz`)).status).toBe(200);
    const workers = childProcessesOf(start.pid!).filter((c) => c.args.includes('workers/main.ts'));
    expect(workers).toHaveLength(2);
    expect(logged('worker started').length).toBeGreaterThanOrEqual(2);

    const created = await fetch(`http://127.0.0.1:${port}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: 30, cols: 30 }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await waitFor(async () => {
      const batch = (await (await fetch(`http://127.0.0.1:${port}/api/batches/${id}`)).json()) as { status: string };
      return batch.status === 'completed';
    }, 'the batch to complete');
  });

  it('restarts a worker that crashes', async () => {
    const [victim] = childProcessesOf(start.pid!).filter((c) => c.args.includes('workers/main.ts'));
    const startedBefore = logged('worker started').length;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(() => logged('worker started').length > startedBefore, 'a replacement worker', 60_000);
    const workers = childProcessesOf(start.pid!).filter((c) => c.args.includes('workers/main.ts'));
    expect(workers).toHaveLength(2);
    expect(workers.map((w) => w.pid)).not.toContain(victim.pid);
  });

  it('leaves a drained worker stopped: it exits 0 and is not restarted, and the other one paints on', async () => {
    const before = childProcessesOf(start.pid!).filter((c) => c.args.includes('workers/main.ts'));
    expect(before).toHaveLength(2);
    const from = lines.length;
    // A local-only server without DASHBOARD_TOKEN: every caller is an operator.
    const drain = await fetch(`http://127.0.0.1:${port}/api/workers/w-1/drain`, { method: 'POST' });
    expect(drain.status).toBe(200);
    expect(await drain.json()).toMatchObject({ id: 'w-1', status: 'draining' });

    const since = () => lines.slice(from);
    await waitFor(
      () => since().some((l) => l.msg === 'process finished; not restarting it' && l.child === 'worker w-1'),
      'the start script to let the drained w-1 go',
      60_000,
    );
    expect(since().find((l) => l.msg === 'process finished; not restarting it')).toMatchObject({ proc: 'start', code: 0 });
    expect(since().filter((l) => l.msg === 'worker stopping' && l.worker === 'w-1')).toEqual([
      expect.objectContaining({ reason: 'drained' }),
    ]);
    expect(since().filter((l) => l.msg === 'process exited' || l.msg === 'restarting process')).toEqual([]);
    const after = childProcessesOf(start.pid!).filter((c) => c.args.includes('workers/main.ts'));
    expect(after).toHaveLength(1);

    // The one left serves a batch alone; the drained one shows as stopped.
    const created = await fetch(`http://127.0.0.1:${port}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: 10, cols: 10 }),
    });
    const { id } = (await created.json()) as { id: string };
    await waitFor(async () => {
      const batch = (await (await fetch(`http://127.0.0.1:${port}/api/batches/${id}`)).json()) as { status: string };
      return batch.status === 'completed';
    }, 'the batch to complete with one worker');
    const { workers } = (await (await fetch(`http://127.0.0.1:${port}/api/workers`)).json()) as {
      workers: { id: string; status: string }[];
    };
    expect(workers.map((w) => [w.id, w.status])).toEqual([
      ['w-1', 'stopped'],
      ['w-2', 'alive'],
    ]);
    // Still not restarted (a crashed worker is restarted within a second or two of its exit).
    expect(childProcessesOf(start.pid!).filter((c) => c.args.includes('workers/main.ts'))).toHaveLength(1);
  });

  it('stops everything on SIGINT, PostgreSQL last, leaving nothing running', async () => {
    const children = childProcessesOf(start.pid!);
    const postgresHost = children.find((c) => c.args.includes('postgres-host.ts'));
    expect(postgresHost).toBeDefined();
    const everyone = [...children.map((c) => c.pid), ...childProcessesOf(postgresHost!.pid).map((c) => c.pid)];
    expect(everyone.length).toBeGreaterThanOrEqual(5);

    start.kill('SIGINT');
    await waitFor(() => exitCode !== undefined, 'the start script to exit', 60_000);
    expect(exitCode).toBe(0);
    await waitFor(() => everyone.every((pid) => !isAlive(pid)), 'every child process to be gone', 10_000);

    const index = (msg: string, proc?: string) => lines.findIndex((l) => l.msg === msg && (!proc || l.proc === proc));
    const postgresStopping = index('embedded postgres stopping');
    expect(postgresStopping).toBeGreaterThan(lines.findLastIndex((l) => l.msg === 'web server stopped'));
    expect(postgresStopping).toBeGreaterThan(lines.findLastIndex((l) => l.msg === 'worker stopped'));
    // w-1 when it was drained, w-2 now.
    expect(logged('worker stopped')).toHaveLength(2);
    expect(logged('web server stopped')).toHaveLength(2);
    expect(logged('embedded postgres stopped')).toHaveLength(1);
  });
});
