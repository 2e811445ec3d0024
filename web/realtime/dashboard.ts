import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Namespace, Socket } from 'socket.io';
import { cancelBatch } from '../../lib/batches/cancel-batch';
import { isBatchId } from '../../lib/batches/validate';
import { readDashboardSnapshot } from '../../lib/dashboard/snapshot';
import { setIntakePaused } from '../../lib/db/intake';
import { toPublicError } from '../../lib/errors';
import { steerWorker, type SteerAction } from '../../lib/workers/steer-worker';
import { isOperatorHandshake, OPERATORS_ONLY, type OperatorPolicy } from '../../lib/operator-auth';
import type { Logger } from '../../lib/log';
import type { ErrorBody } from '../../lib/types';
import {
  DASHBOARD_NAMESPACE,
  type DashboardClientToServerEvents,
  type DashboardServerToClientEvents,
  type IntakeAck,
  type WorkerAck,
} from '../../lib/realtime/events';
import type { RealtimeServer } from './server';

type DashboardNamespace = Namespace<DashboardClientToServerEvents, DashboardServerToClientEvents>;
type DashboardSocket = Socket<DashboardClientToServerEvents, DashboardServerToClientEvents>;

export interface DashboardDeps {
  pool: pg.Pool;
  boss: PgBoss;
  /** Who is an operator (operator-auth.ts): the snapshot and the controls are theirs alone. */
  policy: OperatorPolicy;
  /** A worker not heard from for this long is shown as dead. */
  deadAfterSeconds: number;
  /** How often connected dashboards get a fresh snapshot. */
  intervalMs?: number;
}

const NOT_FOUND: ErrorBody = { error: { code: 'not_found', message: 'No batch has this id.' } };
const NO_WORKER: ErrorBody = { error: { code: 'not_found', message: 'No worker has this id.' } };

/** The dashboard sockets of operators: the snapshots go to them alone. */
const OPERATORS_ROOM = 'operators';

/**
 * Why this socket's dashboard stays locked, in words the token form can show: `forbidden`, as each
 * control would answer.
 */
function lockedReason(policy: OperatorPolicy, socket: DashboardSocket): ErrorBody {
  const presented = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  const message =
    policy.token === undefined
      ? 'This server can be reached from beyond this machine and has no DASHBOARD_TOKEN, so its dashboard is closed. Restart it with DASHBOARD_TOKEN set.'
      : typeof presented === 'string' && presented !== ''
        ? 'That is not the dashboard token. Check it and try again.'
        : 'The dashboard needs a token: enter DASHBOARD_TOKEN.';
  return { error: { code: 'forbidden', message } };
}

/**
 * The operator dashboard's namespace on this web server. While at least one dashboard socket is
 * connected here, this server reads a snapshot from Postgres every second and sends it to its own
 * dashboard sockets only (nothing crosses the adapter: every server reads the same tables). The
 * controls write to Postgres, where every worker and every other server picks them up.
 */
export function attachDashboard(io: RealtimeServer, deps: DashboardDeps, log: Logger): () => Promise<void> {
  const nsp = io.of(DASHBOARD_NAMESPACE) as unknown as DashboardNamespace;
  const intervalMs = deps.intervalMs ?? 1000;

  // Anyone may connect, as the contract has each control answer a stranger `forbidden` in its ack
  // rather than refuse the connection. What a stranger may not see is the snapshot: its queue
  // depths, workers and throughput are what /metrics, an operator control, reports.
  const isOperatorSocket = (socket: DashboardSocket) => isOperatorHandshake(deps.policy, socket.handshake.auth);
  const operatorSockets = () => nsp.adapter.rooms.get(OPERATORS_ROOM)?.size ?? 0;

  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopped = false;

  // While the database is away every tick fails: say so once, and once more when it is back.
  let failing = false;
  const read = async () => {
    try {
      const snapshot = await readDashboardSnapshot(deps);
      if (failing) log.info('dashboard snapshots readable again');
      failing = false;
      return snapshot;
    } catch (err) {
      if (!failing) log.warn('dashboard snapshot failed; dashboards wait for the next one', { err });
      failing = true;
      throw err;
    }
  };
  // One read at a time: a slow database makes ticks wait instead of piling up.
  const broadcast = () => {
    // .finally runs after the assignment, even when the body ends without awaiting.
    ticking ??= (async () => {
      if (operatorSockets() === 0) return;
      nsp.local.to(OPERATORS_ROOM).emit('dashboard:snapshot', await read());
    })()
      .catch(() => undefined) // reported by read()
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  };
  const tick = () => {
    if (operatorSockets() === 0) {
      clearInterval(timer);
      timer = undefined;
      return;
    }
    void broadcast();
  };

  nsp.on('connection', (socket: DashboardSocket) => {
    if (stopped) return void socket.disconnect(true);
    if (isOperatorSocket(socket)) {
      void socket.join(OPERATORS_ROOM);
      timer ??= setInterval(tick, intervalMs);
      read().then(
        (snapshot) => socket.emit('dashboard:snapshot', snapshot),
        () => undefined,
      );
    } else {
      socket.emit('dashboard:locked', lockedReason(deps.policy, socket));
    }

    socket.on('batch:cancel', async (batchId, ack) => {
      if (typeof ack !== 'function') return;
      if (!isOperatorSocket(socket)) return ack({ ok: false, ...OPERATORS_ONLY });
      if (typeof batchId !== 'string' || !isBatchId(batchId)) return ack({ ok: false, ...NOT_FOUND });
      try {
        const { batch, jobsCancelled } = await cancelBatch(deps, batchId);
        log.info('batch cancelled from the dashboard', { batchId, done: batch.done, total: batch.total });
        jobsCancelled.catch((err: unknown) => log.warn('cancelling queued jobs failed; workers will drain them', { batchId, err }));
        ack({ ok: true, batch });
        void broadcast();
      } catch (err) {
        const error = toPublicError(err);
        if (error.code === 'internal_error') log.warn('dashboard cancel failed', { batchId, err });
        ack({ ok: false, ...error.toBody() });
      }
    });

    const setIntake = (paused: boolean) => async (ack: (response: IntakeAck) => void) => {
      if (!isOperatorSocket(socket)) {
        if (typeof ack === 'function') ack({ ok: false, ...OPERATORS_ONLY });
        return;
      }
      try {
        const intake = await setIntakePaused(deps.pool, paused);
        log.info(paused ? 'intake paused from the dashboard' : 'intake resumed from the dashboard');
        if (typeof ack === 'function') ack({ ok: true, intake });
        void broadcast();
      } catch (err) {
        log.warn('dashboard intake change failed', { paused, err });
        if (typeof ack === 'function') ack({ ok: false, ...toPublicError(err).toBody() });
      }
    };
    socket.on('intake:pause', setIntake(true));
    socket.on('intake:resume', setIntake(false));

    const steer = (action: SteerAction) => async (workerId: unknown, ack: (response: WorkerAck) => void) => {
      if (typeof ack !== 'function') return;
      if (!isOperatorSocket(socket)) return ack({ ok: false, ...OPERATORS_ONLY });
      if (typeof workerId !== 'string' || workerId.length > 200) return ack({ ok: false, ...NO_WORKER });
      try {
        const worker = await steerWorker(deps.pool, workerId, action, deps.deadAfterSeconds);
        log.info(`worker ${action} requested`, { worker: workerId, by: 'dashboard' });
        ack({ ok: true, worker });
        void broadcast();
      } catch (err) {
        const error = toPublicError(err);
        if (error.code === 'internal_error') log.warn('dashboard worker control failed', { worker: workerId, action, err });
        ack({ ok: false, ...error.toBody() });
      }
    };
    socket.on('worker:pause', steer('pause'));
    socket.on('worker:resume', steer('resume'));
    socket.on('worker:drain', steer('drain'));
  });

  return async () => {
    stopped = true;
    clearInterval(timer);
    timer = undefined;
    await ticking;
  };
}
