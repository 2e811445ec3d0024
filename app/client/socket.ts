'use client';

import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@/lib/realtime/events';

export type BrowserSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let socket: BrowserSocket | undefined;

/**
 * The page's one Socket.IO connection, created on first use. WebSocket only: several web servers
 * may sit behind a load balancer without sticky sessions.
 */
export function getSocket(): BrowserSocket {
  socket ??= io({ path: '/socket.io', transports: ['websocket'] });
  return socket;
}
