import { useCallback, useEffect, useRef, useState } from 'react';
import type { DashboardSnapshot } from '@/lib/dashboard/types';
import type { CancelAck, IntakeAck, WorkerAck } from '@/lib/realtime/events';
import type { SteerAction } from '@/lib/workers/steer-worker';
import type { ErrorBody } from '@/lib/types';
import { openDashboardSocket, storedToken, storeToken, type DashboardSocket } from './dashboard-socket';

/** needs_token: the server wants a token and this tab has none; refused: the one it sent is wrong. */
export type DashboardConnection = 'connecting' | 'connected' | 'reconnecting' | 'needs_token' | 'refused';

export interface DashboardView {
  connection: DashboardConnection;
  /** Why the server refused the connection, in its words. */
  authMessage: string;
  snapshot: DashboardSnapshot | null;
  submitToken(token: string): void;
  cancelBatch(batchId: string): Promise<CancelAck>;
  setIntakePaused(paused: boolean): Promise<IntakeAck>;
  /** Pauses, resumes or drains one worker. */
  steerWorker(workerId: string, action: SteerAction): Promise<WorkerAck>;
}

const ACK_TIMEOUT_MS = 15_000;
const NO_ANSWER: ErrorBody = { error: { code: 'unavailable', message: 'The server did not answer. Check the connection and try again.' } };

/** The dashboard's one socket: snapshots pushed by the server, and the controls' requests. */
export function useDashboard(): DashboardView {
  const [connection, setConnection] = useState<DashboardConnection>('connecting');
  const [authMessage, setAuthMessage] = useState('');
  const [snapshot, setSnapshot] = useState<DashboardSnapshot | null>(null);
  const socketRef = useRef<DashboardSocket | null>(null);

  useEffect(() => {
    const socket = openDashboardSocket();
    socketRef.current = socket;
    // A locked dashboard keeps its form up across a reconnection; the server's next word decides.
    const isLocked = (c: DashboardConnection) => c === 'needs_token' || c === 'refused';
    const onConnect = () => setConnection((c) => (isLocked(c) ? c : 'connected'));
    const onSnapshot = (next: DashboardSnapshot) => {
      setSnapshot(next);
      setConnection('connected');
      setAuthMessage('');
    };
    // Sent instead of snapshots to a socket without the operator token; submitToken connects again.
    const onLocked = (reason: ErrorBody) => {
      setConnection(storedToken() ? 'refused' : 'needs_token');
      setAuthMessage(reason.error.message);
    };
    const onConnectError = () => setConnection('reconnecting');
    const onDisconnect = (reason: string) => {
      if (reason !== 'io client disconnect') setConnection((c) => (isLocked(c) ? c : 'reconnecting'));
    };
    socket.on('connect', onConnect);
    socket.on('connect_error', onConnectError);
    socket.on('disconnect', onDisconnect);
    socket.on('dashboard:snapshot', onSnapshot);
    socket.on('dashboard:locked', onLocked);
    socket.connect();
    return () => {
      socket.off('connect', onConnect);
      socket.off('connect_error', onConnectError);
      socket.off('disconnect', onDisconnect);
      socket.off('dashboard:snapshot', onSnapshot);
      socket.off('dashboard:locked', onLocked);
      socket.disconnect();
      socketRef.current = null;
    };
  }, []);

  // The form stays up until the server answers: a snapshot, or locked again with its reason. The
  // token goes with a handshake, so the socket connects anew.
  const submitToken = useCallback((token: string) => {
    storeToken(token.trim());
    socketRef.current?.disconnect().connect();
  }, []);

  const cancelBatch = useCallback(
    (batchId: string) =>
      new Promise<CancelAck>((resolve) => {
        const socket = socketRef.current;
        if (!socket) return resolve({ ok: false, ...NO_ANSWER });
        socket.timeout(ACK_TIMEOUT_MS).emit('batch:cancel', batchId, (err, ack) => resolve(err ? { ok: false, ...NO_ANSWER } : ack));
      }),
    [],
  );

  const setIntakePaused = useCallback(
    (paused: boolean) =>
      new Promise<IntakeAck>((resolve) => {
        const socket = socketRef.current;
        if (!socket) return resolve({ ok: false, ...NO_ANSWER });
        socket
          .timeout(ACK_TIMEOUT_MS)
          .emit(paused ? 'intake:pause' : 'intake:resume', (err, ack) => resolve(err ? { ok: false, ...NO_ANSWER } : ack));
      }),
    [],
  );

  const steerWorker = useCallback(
    (workerId: string, action: SteerAction) =>
      new Promise<WorkerAck>((resolve) => {
        const socket = socketRef.current;
        if (!socket) return resolve({ ok: false, ...NO_ANSWER });
        socket.timeout(ACK_TIMEOUT_MS).emit(`worker:${action}`, workerId, (err, ack) => resolve(err ? { ok: false, ...NO_ANSWER } : ack));
      }),
    [],
  );

  return { connection, authMessage, snapshot, submitToken, cancelBatch, setIntakePaused, steerWorker };
}
