import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerProcess {
  id: string;
  proc: ChildProcess;
  output(): string;
  /** Sends a signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a real worker process (`workers/main.ts`) against `databaseUrl`. */
export function startWorker(databaseUrl: string, id: string, env: Record<string, string> = {}): WorkerProcess {
  return startProcess('workers/main.ts', id, { DATABASE_URL: databaseUrl, WORKER_ID: id, ...env });
}

/**
 * Per-client limits high enough for tests that start many batches from 127.0.0.1; the tests of
 * those limits pass their own.
 */
export const GENEROUS_CLIENT_LIMITS = { BATCHES_PER_MINUTE: '1000000', RUNNING_BATCHES_PER_CLIENT: '1000000' };

/**
 * Starts a real web server process (`server.ts`: Next.js and Socket.IO) on `port`; needs the pages
 * built (`npm test` builds them first). Resolves once it answers /healthz.
 */
export async function startWebServer(databaseUrl: string, port: number, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const server = startProcess('server.ts', `web-${port}`, {
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    ...GENEROUS_CLIENT_LIMITS,
    ...env,
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return server;
    if (server.proc.exitCode !== null || Date.now() > deadline) {
      throw new Error(`web server on port ${port} did not come up:\n${server.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function startProcess(entry: string, id: string, env: Record<string, string>): WorkerProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout?.on('data', (chunk) => (output += chunk));
  proc.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    id,
    proc,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Worker settings that keep a batch in flight for seconds: small fetches of slow cells. */
export function slowCells(delayMs: number): Record<string, string> {
  return { NODE_ENV: 'test', WORKER_FETCH_SIZE: '50', FINISH_LINE_FAULTS: JSON.stringify({ delayMs }) };
}

/** Whether a process with this id exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
