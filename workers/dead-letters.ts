import type { Sql } from '../lib/db/sql';
import { parseCellJob } from '../lib/queue/cell-job';
import { recordCells, type RecordDeps, type RecordResult } from './record-cells';

/** A dead-lettered cell job: pg-boss's copy of a job that exhausted its retries, with its last error. */
export interface DeadLetterJob {
  data: unknown;
  sourceOutput?: object | null;
}

/**
 * Records every dead-lettered cell as failed, with the reason its last attempt gave. Every way a job
 * can fail for good (thrown, timed out, its worker gone) ends here, so no failed cell can leave its
 * batch waiting forever.
 */
export function recordDeadLetters(tx: Sql, jobs: DeadLetterJob[], deps: RecordDeps): Promise<RecordResult> {
  return recordCells(
    tx,
    jobs.map((job) => ({ ...parseCellJob(job.data), error: failureReason(job.sourceOutput) })),
    deps,
  );
}

function failureReason(output: object | null | undefined): string {
  const message = (output as { message?: unknown } | null | undefined)?.message;
  const text = typeof message === 'string' && message ? message : 'the job failed after its last retry';
  return text.slice(0, 500);
}
