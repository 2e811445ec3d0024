import { readdirSync, readFileSync } from 'node:fs';
import { round2 } from './format';

/**
 * CPU accounting from /proc: snapshots of the CPU seconds of the app's processes (by thread kind),
 * of PostgreSQL's backends, of this process and of the whole machine, and the difference of two.
 */

const TICKS_PER_SECOND = 100;

/** The fields of a /proc …/stat line after the command name (which may hold spaces and brackets); null once gone. */
export function statFields(file: string): string[] | null {
  try {
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a process (all its threads), or of one thread; null once gone. */
function cpuOf(file: string): number | null {
  const f = statFields(file);
  return f ? (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND : null;
}

/** A process's CPU seconds by thread kind: render threads, floor threads, main thread, the rest. */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const seconds = cpuOf(`/proc/${pid}/task/${tid}/stat`);
    if (seconds === null) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const kind =
      tid === String(pid) ? 'main' : comm.startsWith('render-thread') ? 'render' : comm.startsWith('floor-thread') ? 'floor' : 'other';
    out[kind] = (out[kind] ?? 0) + seconds;
    if (kind !== 'other') {
      // The scheduler's view (ns): time on a CPU, and time runnable but waiting for one.
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        out[`${kind}:run`] = (out[`${kind}:run`] ?? 0) + run / 1e9;
        out[`${kind}:wait`] = (out[`${kind}:wait`] ?? 0) + wait / 1e9;
        out[`${kind}:n`] = (out[`${kind}:n`] ?? 0) + 1;
      } catch {
        // gone
      }
    }
  }
  return out;
}

/** A thread kind's time split: on a CPU, runnable but waiting for a CPU, and idle (no work), in seconds. */
export function threadTime(
  threads: Record<string, number>,
  kind: string,
  wallSeconds: number,
): { n: number; run: number; wait: number; idle: number } | null {
  const n = threads[`${kind}:n`];
  if (!n) return null;
  const run = threads[`${kind}:run`] ?? 0;
  const wait = threads[`${kind}:wait`] ?? 0;
  return { n, run: round2(run), wait: round2(wait), idle: round2(Math.max(0, n * wallSeconds - run - wait)) };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(`/proc/${entry}/stat`);
    if (f && Number(f[1]) === pid) out.push(Number(entry));
  }
  return out;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  void idle;
  void iowait;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

export interface AppProcess {
  pid: number;
  /** 'web', 'worker w-1', …, or 'start' (scripts/start.ts itself). */
  role: string;
}

export interface CpuSnapshot {
  machine: number;
  bench: number;
  benchThreads: Record<string, number>;
  app: Map<number, { role: string; total: number; threads: Record<string, number> }>;
  postgres: Map<number, number>;
}

export function snapshot(app: AppProcess[], postmasterPid: number | null): CpuSnapshot {
  const appCpu = new Map<number, { role: string; total: number; threads: Record<string, number> }>();
  for (const p of app) {
    const total = cpuOf(`/proc/${p.pid}/stat`);
    if (total !== null) appCpu.set(p.pid, { role: p.role, total, threads: threadCpu(p.pid) });
  }
  const postgres = new Map<number, number>();
  if (postmasterPid) {
    for (const pid of [postmasterPid, ...childrenOf(postmasterPid)]) {
      const seconds = cpuOf(`/proc/${pid}/stat`);
      if (seconds !== null) postgres.set(pid, seconds);
    }
  }
  return {
    machine: machineBusySeconds(),
    bench: cpuOf(`/proc/${process.pid}/stat`) ?? 0,
    benchThreads: threadCpu(process.pid),
    app: appCpu,
    postgres,
  };
}

export interface CpuReport {
  /** Per app process (role → seconds), with the worker processes' split by thread kind. */
  processes: { role: string; pid: number; seconds: number; threads: Record<string, number> }[];
  web: number;
  workers: number;
  postgres: number | null;
  /** PostgreSQL's CPU by the application_name of the backend (or its backend type). */
  postgresBy: Record<string, number>;
  /** This process: the floor's threads, or the Socket.IO client that watches the batch. */
  bench: number;
  benchThreads: Record<string, number>;
  /** Busy CPU of the machine not accounted for by any process above: other people's work. */
  other: number;
  machine: number;
}

export function diff(a: CpuSnapshot, b: CpuSnapshot, backendLabels: Map<number, string>, postmasterPid: number | null): CpuReport {
  const processes: CpuReport['processes'] = [];
  for (const [pid, end] of b.app) {
    const start = a.app.get(pid);
    const threads: Record<string, number> = {};
    for (const [k, v] of Object.entries(end.threads)) threads[k] = k.endsWith(':n') ? v : round2(v - (start?.threads[k] ?? 0));
    processes.push({ role: end.role, pid, seconds: round2(end.total - (start?.total ?? 0)), threads });
  }
  processes.sort((x, y) => (x.role < y.role ? -1 : 1));
  const postgresBy: Record<string, number> = {};
  let postgres = 0;
  for (const [pid, end] of b.postgres) {
    const used = end - (a.postgres.get(pid) ?? 0);
    postgres += used;
    const label = pid === postmasterPid ? 'postmaster' : (backendLabels.get(pid) ?? 'gone or background');
    postgresBy[label] = round2((postgresBy[label] ?? 0) + used);
  }
  // Backends that ended during the run: what they used since the first snapshot is lost; small.
  const bench = b.bench - a.bench;
  const benchThreads = Object.fromEntries(
    Object.entries(b.benchThreads).map(([k, v]) => [k, k.endsWith(':n') ? v : round2(v - (a.benchThreads[k] ?? 0))]),
  );
  const web = processes.filter((p) => p.role === 'web').reduce((s, p) => s + p.seconds, 0);
  const workers = processes.filter((p) => p.role.startsWith('worker')).reduce((s, p) => s + p.seconds, 0);
  const ours = processes.reduce((s, p) => s + p.seconds, 0) + postgres + bench;
  const machine = b.machine - a.machine;
  return {
    processes,
    web: round2(web),
    workers: round2(workers),
    postgres: postmasterPid ? round2(postgres) : null,
    postgresBy,
    bench: round2(bench),
    benchThreads,
    other: round2(Math.max(0, machine - ours)),
    machine: round2(machine),
  };
}
