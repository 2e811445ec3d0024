import { availableParallelism, cpus } from 'node:os';
import type { OursRun } from './app-run';
import { PARAMS, PIXELS, SETUPS, TILES, TUNABLES, WARMUP } from './constants';
import { threadTime } from './cpu';
import type { FloorRun } from './floor';
import { round2, secs } from './format';

/** The picture bench's report: a Markdown table for people, JSON for tools, from the best reps. */

export function buildReport(reps: number, floors: FloorRun[], ours: OursRun[], benchMs: number, postgres: string) {
  const best = <T>(runs: T[], ms: (r: T) => number) => runs.reduce((a, b) => (ms(b) < ms(a) ? b : a));
  const floorBest = new Map(
    SETUPS.map((n) => [
      n,
      best(
        floors.filter((f) => f.cores === n),
        (f) => f.wallMs,
      ),
    ]),
  );
  const oursBest = new Map(
    SETUPS.map((n) => [
      n,
      best(
        ours.filter((o) => o.workers === n && o.rep > 0),
        (o) => o.toCompletedMs,
      ),
    ]),
  );
  const allReps = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
  const rate = (ms: number) => `${Math.round(TILES / (ms / 1000))} | ${(PIXELS / 1e6 / (ms / 1000)).toFixed(2)}`;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  const overhead = new Map(SETUPS.map((n) => [n, (oursBest.get(n)!.toCompletedMs - floorBest.get(n)!.wallMs) / floorBest.get(n)!.wallMs]));
  const speedUp = oursBest.get(1)!.toCompletedMs / oursBest.get(2)!.toCompletedMs;
  const floorSpeedUp = floorBest.get(1)!.wallMs / floorBest.get(2)!.wallMs;
  const tileMs = [...(floorBest.get(1)!.tileMs ?? [])].sort((a, b) => a - b);
  const q = (p: number) => tileMs[Math.min(tileMs.length - 1, Math.floor(p * tileMs.length))];
  const tunables = TUNABLES.map((k) => `${k}=${process.env[k] ?? 'default'}`).join(', ');
  const workerCpu = (o: OursRun) =>
    o.cpu.processes
      .filter((p) => p.role.startsWith('worker'))
      .map(
        (p) =>
          `${p.role.slice(7)}: ${p.seconds.toFixed(2)} (render ${(p.threads.render ?? 0).toFixed(2)}, main ${(p.threads.main ?? 0).toFixed(2)})`,
      )
      .join('<br>');
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

  const lines = [
    `## Picture bench: ${PARAMS.rows}×${PARAMS.cols} tiles of ${PARAMS.tileSize} px (${(PIXELS / 1e6).toFixed(2)} Mpx), ${PARAMS.maxIterations} iterations, view ${JSON.stringify(PARAMS.view)}`,
    '',
    `${new Date().toISOString()}; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}); best of ${reps} rep(s); PostgreSQL: ${postgres}; app settings: ${tunables}. ` +
      `The app runs as \`npm start\` does; its time is POST /api/batches → \`batch:completed\` on Socket.IO, after an untimed ${WARMUP.rows}×${WARMUP.cols}-tile warm-up. ` +
      'The floor renders the same tiles in the bench process with no queue and no database, right before each app rep at equal cores. ' +
      'CPU seconds are for the best rep, from /proc; "other" is CPU the machine spent outside every process of this bench (other people\'s work on a shared machine).',
    '',
    '| setup | wall (best) | all reps (s) | tiles/s | Mpx/s | createdAt → finishedAt | CPU s per worker process | web server CPU s | PostgreSQL CPU s | bench process CPU s | other CPU s | overhead vs floor |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...SETUPS.flatMap((n) => {
      const f = floorBest.get(n)!;
      const o = oursBest.get(n)!;
      return [
        row([
          n === 1 ? 'floor, 1 core (loop over renderTile)' : `floor, ${n} cores (${n} worker_threads, interleaved rows)`,
          secs(f.wallMs),
          allReps(floors.filter((x) => x.cores === n).map((x) => x.wallMs)),
          rate(f.wallMs),
          '–',
          `– (floor threads ${(f.cpu.benchThreads[n === 1 ? 'main' : 'floor'] ?? 0).toFixed(2)})`,
          `${f.cpu.web.toFixed(2)} (idle app)`,
          f.cpu.postgres?.toFixed(2) ?? '?',
          f.cpu.bench.toFixed(2),
          f.cpu.other.toFixed(2),
          '–',
        ]),
        row([
          `app, WORKERS=${n}`,
          secs(o.toCompletedMs),
          allReps(ours.filter((x) => x.workers === n && x.rep > 0).map((x) => x.toCompletedMs)),
          rate(o.toCompletedMs),
          secs(o.createdToFinishedMs),
          workerCpu(o),
          o.cpu.web.toFixed(2),
          o.cpu.postgres?.toFixed(2) ?? '?',
          o.cpu.bench.toFixed(2),
          o.cpu.other.toFixed(2),
          `**${pct(overhead.get(n)!)}**`,
        ]),
      ];
    }),
    '',
    `- Speed-up of WORKERS=2 over WORKERS=1: **×${speedUp.toFixed(2)}** (the floor's, 2 threads over 1: ×${floorSpeedUp.toFixed(2)}).`,
    `- Queue overhead against the floor at equal cores, (ours − floor) / floor, target ≤ 10 %: 1 core ${pct(overhead.get(1)!)} (${overhead.get(1)! <= 0.1 ? 'met' : 'missed'}), 2 cores ${pct(overhead.get(2)!)} (${overhead.get(2)! <= 0.1 ? 'met' : 'missed'}).`,
    ...SETUPS.map((n) => {
      const f = floorBest.get(n)!;
      const o = oursBest.get(n)!;
      const floorCpu = f.cpu.benchThreads[n === 1 ? 'main' : 'floor'] ?? 0;
      const render = o.cpu.processes.reduce((s, p) => s + (p.threads.render ?? 0), 0);
      const rest = o.cpu.workers - render;
      const total = o.cpu.workers + o.cpu.web + (o.cpu.postgres ?? 0);
      return `- CPU per picture at ${n} core(s): floor ${floorCpu.toFixed(2)} s; app ${total.toFixed(2)} s = render threads ${render.toFixed(2)} + rest of the worker processes ${rest.toFixed(2)} + web server ${o.cpu.web.toFixed(2)} + PostgreSQL ${(o.cpu.postgres ?? 0).toFixed(2)} (×${(total / Math.max(0.01, floorCpu)).toFixed(2)} the floor's), plus ${o.cpu.bench.toFixed(2)} s in the bench's Socket.IO client.`;
    }),
    `- Tile render times (1-core floor, best rep): median ${q(0.5).toFixed(2)} ms, p90 ${q(0.9).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms, max ${tileMs.at(-1)!.toFixed(2)} ms; ${tileMs.filter((t) => t < 0.5).length} of ${TILES} tiles under 0.5 ms.`,
    '',
    '### The app runs, in detail (best rep of each setup)',
    '',
    '| WORKERS | POST → 201 | → first tile event | → completed | createdAt → finishedAt | image after completion | tiles by worker (first → last tile, from createdAt) | recordings (tiles each) | pg-boss fetches (mean size) | PostgreSQL CPU by client |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...SETUPS.map((n) => {
      const o = oursBest.get(n)!;
      return row([
        n,
        `${Math.round(o.toCreatedMs)} ms`,
        `${Math.round(o.toFirstTileMs)} ms`,
        secs(o.toCompletedMs),
        secs(o.createdToFinishedMs),
        o.imageMs === null ? '?' : secs(o.imageMs),
        o.byWorker.map((w) => `${w.worker}: ${w.tiles} (${secs(w.firstMs)} → ${secs(w.lastMs)})`).join('<br>'),
        `${o.recordings} (${(TILES / Math.max(1, o.recordings)).toFixed(1)})`,
        o.fetches ? `${o.fetches.count} (${o.fetches.meanSize})` : '?',
        Object.entries(o.cpu.postgresBy)
          .filter(([, s]) => s >= 0.01)
          .sort((a, b) => b[1] - a[1])
          .map(([k, s]) => `${k} ${s.toFixed(2)}`)
          .join('<br>'),
      ]);
    }),
    '',
    "Where the render threads' time went (best rep; from /proc/…/schedstat): on a CPU, runnable but waiting for a CPU (other threads and processes had the cores), and idle (no tile to render: waiting for a fetch, for the main thread, or done before the others).",
    '',
    '| setup | wall | render threads | on a CPU | waiting for a CPU | idle |',
    '|---|---|---|---|---|---|',
    ...SETUPS.flatMap((n) => {
      const f = floorBest.get(n)!;
      const o = oursBest.get(n)!;
      const fw = f.wallMs / 1000;
      const ft = threadTime(f.cpu.benchThreads, n === 1 ? 'main' : 'floor', fw);
      const line = (name: string, wall: number, t: ReturnType<typeof threadTime>) =>
        t
          ? row([name, `${wall.toFixed(2)} s`, t.n, `${t.run.toFixed(2)} s`, `${t.wait.toFixed(2)} s`, `${t.idle.toFixed(2)} s`])
          : row([name, `${wall.toFixed(2)} s`, '?', '?', '?', '?']);
      return [
        line(n === 1 ? 'floor, 1 core (main thread)' : `floor, ${n} cores`, fw, ft),
        ...o.cpu.processes
          .filter((p) => p.role.startsWith('worker'))
          .map((p) =>
            line(`app, WORKERS=${n}, ${p.role}`, o.toCompletedMs / 1000, threadTime(p.threads, 'render', o.toCompletedMs / 1000)),
          ),
      ];
    }),
    ...SETUPS.flatMap((n) => {
      const st = oursBest.get(n)!.statements;
      if (!st || st.length === 0) return [];
      return [
        '',
        `Top statements, WORKERS=${n} (pg_stat_statements):`,
        '',
        '| statement | calls | total ms | mean ms |',
        '|---|---|---|---|',
        ...st.map((s) => row([`\`${s.query.replace(/\|/g, '\\|')}…\``, s.calls, s.totalMs, s.meanMs])),
      ];
    }),
    '',
    `The bench took ${secs(benchMs)}.`,
  ];
  const json = {
    date: new Date().toISOString(),
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? null },
    picture: { ...PARAMS, tiles: TILES, pixels: PIXELS },
    reps,
    postgres,
    settings: Object.fromEntries(TUNABLES.map((k) => [k, process.env[k] ?? null])),
    summary: {
      floorMs: Object.fromEntries(SETUPS.map((n) => [`${n}core`, round2(floorBest.get(n)!.wallMs)])),
      oursMs: Object.fromEntries(SETUPS.map((n) => [`workers${n}`, round2(oursBest.get(n)!.toCompletedMs)])),
      overhead: Object.fromEntries(SETUPS.map((n) => [`${n}core`, Number(overhead.get(n)!.toFixed(4))])),
      speedUp: Number(speedUp.toFixed(3)),
      floorSpeedUp: Number(floorSpeedUp.toFixed(3)),
      tileMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: tileMs.at(-1), sum: tileMs.reduce((s, t) => s + t, 0) },
    },
    floors: floors.map(({ colors: _c, tileMs: _t, ...f }) => f),
    ours,
    benchMs: Math.round(benchMs),
  };
  return { markdown: lines.join('\n'), json };
}
