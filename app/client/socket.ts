import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@/lib/realtime/events';

export type BrowserSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let socket: BrowserSocket | undefined;

/**
 * The page's one Socket.IO connection, created on first use so that importing this module (or
 * rendering on the server) opens nothing. WebSocket only: several web servers may sit behind a
 * load balancer without sticky sessions, and long-polling would need them.
 */
export function getSocket(): BrowserSocket {
  socket ??= io({ path: '/socket.io', transports: ['websocket'] });
  return socket;
}
