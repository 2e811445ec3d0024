import { io, type Socket } from 'socket.io-client';
import { DASHBOARD_NAMESPACE, type DashboardClientToServerEvents, type DashboardServerToClientEvents } from '@/lib/realtime/events';

export type DashboardSocket = Socket<DashboardServerToClientEvents, DashboardClientToServerEvents>;

const TOKEN_KEY = 'finish-line:dashboard-token';

/** The token this tab entered, kept for the tab's life only (sessionStorage), never in a URL. */
export const storedToken = (): string => sessionStorage.getItem(TOKEN_KEY) ?? '';
export const storeToken = (token: string): void => sessionStorage.setItem(TOKEN_KEY, token);

/**
 * A dashboard connection, not yet connected. WebSocket only, like the batch page. The token is read
 * at every connection attempt, so a token entered after a refusal goes with the next one.
 */
export function openDashboardSocket(): DashboardSocket {
  return io(DASHBOARD_NAMESPACE, {
    path: '/socket.io',
    transports: ['websocket'],
    autoConnect: false,
    forceNew: true,
    auth: (send) => {
      const token = storedToken();
      send(token ? { token } : {});
    },
  });
}
