import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type RunningPostgres } from '../../../lib/db/embedded';
import { freePort } from '../../ports';
import { type App, appProcesses, buildPages, startAppWithRetry, stopApp } from './app';
import { type OursRun, runOurs } from './app-run';
import { startCleanups } from './cleanup';
import { PARAMS, ROOT, SETUPS, WARMUP } from './constants';
import { type CpuSnapshot, diff, snapshot, threadTime } from './cpu';
import { BenchError } from './errors';
import { type FloorRun, floorOneCore, floorThreads } from './floor';
import { log, secs } from './format';
import { backendLabels } from './postgres-stats';
import { waitForQuiet } from './quiet';
import { buildReport } from './report';
import { waitWithin } from './wait';

/**
 * `npm run bench -- --picture [--reps N]`: the fixed picture BENCH_PARAMS (64×64 tiles of 32 px,
 * 2000 iterations, BENCH_VIEW) rendered
 *
 * - through the app, started as `npm start` starts it (scripts/start.ts) with WORKERS=1 and then
 *   WORKERS=2, on one embedded PostgreSQL that this script runs (a fresh database per setup), and
 *   timed through the public contract: POST /api/batches → `batch:completed` over Socket.IO, with
 *   the batch's createdAt → finishedAt as a cross-check;
 * - and as the floor, in this process with no queue and no database: one core (a plain loop over
 *   renderTile) and two cores (two worker threads, interleaved rows).
 *
 * Each floor rep runs right before the app rep with as many cores, so both see the same machine
 * (it is shared; CPU used by processes that are not ours is reported as "other"). Best of --reps.
 * Prints a Markdown table and writes bench-results/picture.md and bench-results/picture.json.
 * Everything it starts is stopped on the way out, also on failure or Ctrl-C.
 */

export interface PictureBenchOptions {
  reps: number;
  /** Hard limit for the whole run; past it the bench stops what it started and fails. */
  timeoutMinutes?: number;
}

export async function runPictureBench(options: PictureBenchOptions): Promise<void> {
  const reps = options.reps;
  if (!Number.isInteger(reps) || reps < 1 || reps > 20)
    throw new BenchError(`--reps must be an integer from 1 to 20 (got ${options.reps})`);
  const startedAt = Date.now();
  const deadline = startedAt + (options.timeoutMinutes ?? 12) * 60_000;

  const { track, stopAll, restoreSignals } = startCleanups();
  const waitUntil = waitWithin(deadline, options.timeoutMinutes ?? 12);

  try {
    log(
      `rendering ${PARAMS.rows}×${PARAMS.cols} tiles of ${PARAMS.tileSize} px (${PARAMS.cols * PARAMS.tileSize}×${PARAMS.rows * PARAMS.tileSize} px), ${PARAMS.maxIterations} iterations, view ${JSON.stringify(PARAMS.view)}; best of ${reps}`,
    );
    log(
      `machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );

    // One PostgreSQL for the whole run (ours unless DATABASE_URL names one), a fresh database per setup.
    let postgres: RunningPostgres | undefined;
    let adminUrl = process.env.DATABASE_URL;
    if (!adminUrl) {
      const dir = await mkdtemp(path.join(tmpdir(), 'finishline-bench-picture-'));
      await chmod(dir, 0o755);
      track('temporary directory', () => rm(dir, { recursive: true, force: true }));
      log('starting an embedded PostgreSQL');
      postgres = await startEmbeddedPostgres({
        dataDir: path.join(dir, 'pg'),
        port: await freePort(),
        database: 'bench',
        settings: ['shared_preload_libraries=pg_stat_statements'],
      });
      track('embedded PostgreSQL', () => postgres!.stop());
      adminUrl = postgres.adminUrl; // The superuser: the bench creates databases and loads pg_stat_statements.
    } else log('using the PostgreSQL of DATABASE_URL (its CPU is not measured)');
    const postmasterPid = postgres?.pid ?? null;
    const admin = new pg.Client({ connectionString: adminUrl, application_name: 'bench-picture' });
    admin.on('error', (err) => log(`the bench's database connection failed: ${err.message}`));
    await admin.connect().catch((err: unknown) => {
      throw new BenchError(
        `could not connect to ${postgres ? 'the embedded PostgreSQL' : 'DATABASE_URL'} (${new URL(adminUrl!).host}): ${(err as Error).message}`,
        { cause: err },
      );
    });
    track('admin connection', () => admin.end());
    const statements = await admin
      .query('create extension if not exists pg_stat_statements')
      .then(() => true)
      .catch(() => false);

    const floorRuns: FloorRun[] = [];
    const oursRuns: OursRun[] = [];
    let referenceColors: string[] | null = null;

    const runFloor = async (cores: number, app: App, rep: number) => {
      let before = snapshot(app.processes, postmasterPid);
      let after: CpuSnapshot | undefined;
      const result =
        cores === 1
          ? floorOneCore()
          : await floorThreads(
              cores,
              (stop) => track('floor threads', stop),
              () => (before = snapshot(app.processes, postmasterPid)),
              () => (after = snapshot(app.processes, postmasterPid)),
            );
      after ??= snapshot(app.processes, postmasterPid);
      const cpu = diff(before, after, await backendLabels(admin), postmasterPid);
      const run: FloorRun = {
        cores,
        wallMs: result.wallMs,
        cpu,
        colors: result.colors,
        tileMs: 'tileMs' in result ? (result.tileMs as number[]) : undefined,
      };
      referenceColors ??= result.colors;
      const mismatches = result.colors.filter((c, i) => c !== referenceColors![i]).length;
      if (mismatches > 0) throw new BenchError(`the ${cores}-core floor rendered ${mismatches} tiles differently from the 1-core floor`);
      floorRuns.push(run);
      const t = threadTime(cpu.benchThreads, cores === 1 ? 'main' : 'floor', run.wallMs / 1000);
      log(
        `floor, ${cores} core${cores > 1 ? 's' : ''}, rep ${rep}/${reps}: ${secs(run.wallMs)} (render on CPU ${t?.run.toFixed(2)} s, waiting for CPU ${t?.wait.toFixed(2)} s; idle app ${(cpu.workers + cpu.web).toFixed(2)} s, other ${cpu.other.toFixed(2)} s)`,
      );
    };

    for (const workers of SETUPS) {
      const database = `picture_w${workers}`;
      await admin.query(`drop database if exists ${database} with (force)`);
      await admin.query(`create database ${database}`);
      const databaseUrl = withDatabase(adminUrl, database);
      await buildPages(deadline);
      const app = await startAppWithRetry(workers, databaseUrl, track, waitUntil);
      const stopThisApp = track(`the app (WORKERS=${workers})`, () => stopApp(app));
      const check = () => {
        if (app.exited)
          throw new BenchError(
            `the app exited (code ${app.exited.code}, signal ${app.exited.signal}) while the bench ran; see its log above`,
          );
      };

      log(`warm-up: a ${WARMUP.rows}×${WARMUP.cols}-tile picture of the same region (untimed)`);
      await runOurs(app, { ...WARMUP, workers, rep: 0, postmasterPid, statements: false, admin, referenceColors: null }, waitUntil, check);

      for (let rep = 1; rep <= reps; rep++) {
        await waitForQuiet(app.processes, postmasterPid);
        await runFloor(workers, app, rep);
        await waitForQuiet(app.processes, postmasterPid);
        const before = appProcesses(app.proc.pid!);
        const run = await runOurs(
          app,
          { rows: PARAMS.rows, cols: PARAMS.cols, workers, rep, postmasterPid, statements, admin, referenceColors },
          waitUntil,
          check,
        );
        const after = appProcesses(app.proc.pid!);
        if (before.map((p) => p.pid).join() !== after.map((p) => p.pid).join())
          log('warning: a process of the app restarted during this run; see its log above');
        oursRuns.push(run);
        const perWorker = run.cpu.processes
          .filter((p) => p.role.startsWith('worker'))
          .map((p) => {
            const t = threadTime(p.threads, 'render', run.toCompletedMs / 1000);
            return `${p.role.slice(7)} ${p.seconds.toFixed(2)} s (render thread on CPU ${t?.run.toFixed(2)} s, waiting for CPU ${t?.wait.toFixed(2)} s, idle ${t?.idle.toFixed(2)} s)`;
          });
        log(
          `app, WORKERS=${workers}, rep ${rep}/${reps}: POST → batch:completed ${secs(run.toCompletedMs)} (createdAt → finishedAt ${secs(run.createdToFinishedMs)}); CPU ${perWorker.join(', ')}, web ${run.cpu.web.toFixed(2)} s, postgres ${run.cpu.postgres?.toFixed(2) ?? '?'} s, other ${run.cpu.other.toFixed(2)} s`,
        );
      }
      stopThisApp();
      log(`stopping the app (WORKERS=${workers})`);
      await stopApp(app);
      await admin.query(`drop database if exists ${database} with (force)`).catch(() => undefined);
    }

    const report = buildReport(
      reps,
      floorRuns,
      oursRuns,
      Date.now() - startedAt,
      postgres ? 'embedded, one server for the run, a fresh database per setup' : 'DATABASE_URL',
    );
    console.log(`\n${report.markdown}\n`);
    await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench-results', 'picture.md'), `${report.markdown}\n`);
    await writeFile(path.join(ROOT, 'bench-results', 'picture.json'), JSON.stringify(report.json, null, 2));
    log(`wrote bench-results/picture.md and bench-results/picture.json; the bench took ${secs(Date.now() - startedAt)}`);
  } finally {
    await stopAll();
    restoreSignals();
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
