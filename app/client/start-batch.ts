import type { Batch, BatchInput, ErrorBody } from '@/lib/types';

export type StartResult = { ok: true; batch: Batch } | { ok: false; message: string };

/** POST /api/batches, with the server's own sentence when it refuses. */
export async function startBatch(input: BatchInput): Promise<StartResult> {
  try {
    const response = await fetch('/api/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    const body = (await response.json().catch(() => null)) as Partial<Batch & ErrorBody> | null;
    if (response.ok && typeof body?.id === 'string') return { ok: true, batch: body as Batch };
    return { ok: false, message: body?.error?.message ?? `The server could not start the batch (HTTP ${response.status}). Try again.` };
  } catch {
    return { ok: false, message: 'Could not reach the server. Check your connection and try again.' };
  }
}
