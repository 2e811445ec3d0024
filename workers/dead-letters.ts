import type { Sql } from '../lib/db/sql';
import { parseCellJob } from '../lib/queue/cell-job';
import { recordCells, type RecordDeps, type RecordResult } from '../lib/batches/record-cells';

/** A dead-lettered cell job: pg-boss's copy of a job that exhausted its retries, with its last error. */
export interface DeadLetterJob {
  data: unknown;
  sourceOutput?: object | null;
}

/**
 * Records every dead-lettered cell as failed, with the reason its last attempt gave. Both ways a cell
 * fails for good end here, so no failed cell can leave its batch waiting forever: its own work
 * failed past its retries (the worker queued the dead letter, with the error in its payload; see
 * workers/fail-attempts.ts), or pg-boss gave up on a job lost to infrastructure `LOST_ATTEMPTS_LIMIT`
 * times (the error in `sourceOutput`).
 */
export function recordDeadLetters(tx: Sql, jobs: DeadLetterJob[], deps: RecordDeps): Promise<RecordResult> {
  return recordCells(
    tx,
    jobs.map((job) => ({ ...parseCellJob(job.data), error: failureReason(job) })),
    deps,
  );
}

function failureReason(job: DeadLetterJob): string {
  const own = (job.data as { error?: unknown } | null)?.error;
  const last = (job.sourceOutput as { message?: unknown } | null | undefined)?.message;
  const text = typeof own === 'string' && own ? own : typeof last === 'string' && last ? last : 'the job failed after its last retry';
  return text.slice(0, 500);
}
