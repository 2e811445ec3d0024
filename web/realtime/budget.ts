/**
 * A process-wide allowance of some unit (bytes of join answers being built, statements in flight)
 * shared by every socket of the web server. `take(n)` waits until n more fit, then holds them until
 * the returned release is called. Waiters are admitted first-fit in arrival order: a small join
 * passes a huge one that is waiting for room, so a few huge answers never hold up a page that
 * joins a small batch. One request larger than the whole allowance is admitted when nothing else
 * is held, so every request is served eventually.
 */
export class Budget {
  private used = 0;
  private readonly waiting: { units: number; admit: () => void }[] = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Resolves with the release once `units` are held; an aborted `signal` gives up waiting. */
  take(units: number, signal?: AbortSignal): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const grant = () => {
        this.used += units;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.used -= units;
          this.admitWaiting();
        });
      };
      if (this.fits(units)) return grant();
      const waiter = {
        units,
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          grant();
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Runs `fn` holding `units`. */
  async run<T>(units: number, fn: () => Promise<T>): Promise<T> {
    const release = await this.take(units);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private fits(units: number): boolean {
    return this.used === 0 || this.used + units <= this.capacity;
  }

  private admitWaiting() {
    for (let i = 0; i < this.waiting.length;) {
      const waiter = this.waiting[i];
      if (this.fits(waiter.units)) {
        this.waiting.splice(i, 1);
        waiter.admit();
      } else i++;
    }
  }
}
