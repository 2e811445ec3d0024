import type { Batch, BatchImage } from '@/lib/types';

export interface ImageCheckTiming {
  /** An ended batch whose image has not been announced is asked for after this long… */
  firstMs: number;
  /** …and then at doubling intervals up to this. */
  maxMs: number;
}

/**
 * When to ask over HTTP for an ended batch's image: its `batch:image` event may have gone with a
 * dropped connection, and no join answers it while the page stays connected. Pure: the caller
 * passes the time.
 */
export class ImageCheck {
  private at: number | null = null;
  private waitMs: number;

  constructor(private readonly timing: ImageCheckTiming = { firstMs: 5_000, maxMs: 60_000 }) {
    this.waitMs = timing.firstMs;
  }

  /** Called while an ended batch has no image; the first call only starts the wait. */
  due(now: number): boolean {
    if (this.at === null) {
      this.at = now + this.waitMs;
      return false;
    }
    if (now < this.at) return false;
    this.at = now + this.waitMs;
    this.waitMs = Math.min(this.timing.maxMs, this.waitMs * 2);
    return true;
  }
}

/** The batch's image as `GET /api/batches/:id` tells it; null when it has none or cannot be asked. */
export async function fetchBatchImage(batchUrl: string, signal: AbortSignal): Promise<BatchImage | null> {
  try {
    const response = await fetch(batchUrl, { signal });
    if (!response.ok) return null;
    const body = (await response.json()) as Partial<Batch>;
    return body.image ?? null;
  } catch {
    // Offline: the next check tries again.
    return null;
  }
}
