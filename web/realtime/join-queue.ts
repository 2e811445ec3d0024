/**
 * One socket's `batch:join`s, one at a time: a join sent while another is being answered waits its
 * turn and is answered after it, in the order sent (v1 clients never send two at once; a page may
 * send a catch-up join right behind its first). So one socket never has more than one snapshot
 * being read and sent, whatever it sends. `maxWaiting` bounds the queue (the flood limits keep it
 * far below); past it `run` refuses. Closing drops the joins still waiting: their socket is gone.
 */
export function createJoinQueue(maxWaiting: number) {
  const waiting: (() => Promise<void>)[] = [];
  let running = false;
  let closed = false;

  const drain = async () => {
    running = true;
    for (let task = waiting.shift(); task && !closed; task = waiting.shift()) await task();
    running = false;
  };

  return {
    /** Queues `task`; false when the queue is full or closed. A task must not throw. */
    run(task: () => Promise<void>): boolean {
      if (closed || waiting.length >= maxWaiting) return false;
      waiting.push(task);
      if (!running) void drain();
      return true;
    },
    close() {
      closed = true;
      waiting.length = 0;
    },
  };
}
