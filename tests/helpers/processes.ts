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
  const proc = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, WORKER_ID: id, LOG_LEVEL: 'warn', ...env },
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
