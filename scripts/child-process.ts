import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/log';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ChildOptions {
  name: string;
  /** Entry file, relative to the project root. */
  entry: string;
  env: NodeJS.ProcessEnv;
  /**
   * Restart it when it crashes (exits on its own with a code other than 0, or is killed); the web
   * server and workers are. Exiting 0 on its own, it stopped on purpose (a drained worker, or one
   * sent SIGTERM by hand) and stays stopped.
   */
  restart: boolean;
  log: Logger;
}

/**
 * One child process of the start script: a TypeScript entry run by this same Node binary, in its
 * own process group (a terminal's Ctrl-C reaches the start script only, which stops children in
 * order), with an IPC channel so it can report readiness and notices if the start script dies.
 */
export class Child {
  private proc: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly messageListeners = new Set<(message: unknown) => void>();

  constructor(private readonly options: ChildOptions) {}

  start(): void {
    const { name, entry, env, log } = this.options;
    this.startedAt = Date.now();
    const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    this.proc = proc;
    proc.on('message', (message) => {
      for (const listener of this.messageListeners) listener(message);
    });
    proc.on('exit', (code, signal) => {
      this.proc = undefined;
      if (this.stopping) return;
      if (code === 0 && this.options.restart) {
        log.info('process finished; not restarting it', { child: name, pid: proc.pid, code });
        return;
      }
      log.warn('process exited', { child: name, pid: proc.pid, code, signal });
      if (!this.options.restart) return;
      // Back off while it keeps crashing; a process that ran a minute starts afresh.
      if (Date.now() - this.startedAt > 60_000) this.restarts = 0;
      const delay = Math.min(30_000, 500 * 2 ** this.restarts++);
      this.restartTimer = setTimeout(() => {
        log.info('restarting process', { child: name, afterMs: delay });
        this.start();
      }, delay);
    });
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Sends a signal as-is (the chaos run freezes, thaws and kills workers this way). */
  signal(signal: NodeJS.Signals): void {
    this.proc?.kill(signal);
  }

  /** Resolves with the first IPC message that `match` accepts, or rejects if the child exits first. */
  waitFor<T>(match: (message: unknown) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const proc = this.proc;
      if (!proc) return reject(new Error(`${this.options.name} is not running`));
      const onMessage = (message: unknown) => {
        const value = match(message);
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`${this.options.name} exited (code ${code}) before it was ready; see its log above.`));
      };
      const cleanup = () => {
        this.messageListeners.delete(onMessage);
        proc.off('exit', onExit);
      };
      this.messageListeners.add(onMessage);
      proc.once('exit', onExit);
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.log.warn('process did not stop in time; killing it', { child: this.options.name });
        proc.kill('SIGKILL');
      }, graceMs);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
}

/** Every process whose parent is `pid`, with its command line (from `ps`). */
export function childProcessesOf(pid: number): { pid: number; args: string }[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null && Number(m[2]) === pid)
    .map((m) => ({ pid: Number(m[1]), args: m[3] }));
}
