/**
 * Entry of one render thread (see render-pool.ts): renders the tiles it is sent, one at a time,
 * and sends each back with its buffer transferred, not copied.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { renderTile } from '../lib/pictures/mandelbrot';
import type { RenderReply, RenderRequest, RenderThreadData } from './render-pool';

if (!parentPort) throw new Error('render-thread.ts runs as a worker thread of a RenderPool, not on its own');
const port = parentPort;

// Rendering is background work: on a machine whose cores it fills, the worker's own event loop,
// PostgreSQL, the web server and a browser painting the picture must still get a core when they
// need one, or the pipeline and the page stall behind the renders they exist to show. On Linux a
// nice value belongs to a thread, and setpriority(PRIO_PROCESS, 0) sets the calling thread's; so
// this lowers this render thread alone. Elsewhere it would lower the whole process: left as is.
const { nice } = workerData as RenderThreadData;
if (nice > 0 && process.platform === 'linux') setPriority(nice);

port.on('message', (task: RenderRequest) => {
  let reply: RenderReply;
  try {
    const rgb = renderTile(task.params, task.row, task.col);
    reply = { type: 'done', id: task.id, rgb };
    port.postMessage(reply, [rgb.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { type: 'error', id: task.id, message: err instanceof Error ? err.message : String(err) };
    port.postMessage(reply);
  }
});

// Sent once the module graph (and the TypeScript loader before it) has loaded, so a tile's time
// limit never includes the thread's start-up.
port.postMessage({ type: 'ready' } satisfies RenderReply);
