import { ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';
import { findTraceParents } from '../lib/db/batches';
import type { Sql } from '../lib/db/sql';
import { countBatchEnded, countCellsRecorded } from '../lib/telemetry/metrics';
import { ATTR, batchContext, failSpan, linkToActive, tracer } from '../lib/telemetry/trace';
import type { RecordResult } from '../lib/batches/record-cells';

/** What a fetch's spans are told when its transaction has committed, or that it failed. */
export interface FetchSpans {
  end(result: RecordResult): void;
  fail(err: unknown): void;
}

const NO_SPANS: FetchSpans = { end: () => undefined, fail: () => undefined };

// Enough for every batch a worker sees in a while; a batch's traceparent never changes.
const CACHE_MAX = 10_000;

/**
 * A worker's spans in its batches' traces: for each fetched group of jobs, one span per batch the
 * group holds (`cells record`, or `cells dead-letter` for the dead-letter queue), started under the
 * traceparent stored on that batch's row and linked to pg-boss's own span for the fetch; and, for a
 * batch this group finished, a `batch complete` span inside it. A worker looks each batch's
 * traceparent up once. Off (no lookups, no spans) unless tracing is on.
 */
export class FetchTraces {
  private readonly traceParents = new Map<string, string | null>();

  constructor(
    private readonly sql: Sql,
    private readonly workerId: string,
    private readonly enabled: boolean,
  ) {}

  async start(name: 'cells record' | 'cells dead-letter', jobs: { data: unknown }[]): Promise<FetchSpans> {
    if (!this.enabled) return NO_SPANS;
    const fetched = countByBatch(jobs);
    await this.lookUp([...fetched.keys()]);
    const links = linkToActive();
    const spans = new Map<string, Span>();
    for (const [batchId, cells] of fetched) {
      const attributes = { [ATTR.batchId]: batchId, [ATTR.cellsFetched]: cells, [ATTR.worker]: this.workerId };
      spans.set(batchId, tracer().startSpan(name, { attributes, links }, batchContext(this.traceParents.get(batchId))));
    }
    return {
      end: (result) => {
        for (const [batchId, span] of spans) {
          const colored = result.colored.get(batchId)?.length ?? 0;
          const failed = result.failed.get(batchId)?.length ?? 0;
          span.setAttributes({ [ATTR.cellsColored]: colored, [ATTR.cellsFailed]: failed });
          countCellsRecorded(colored, failed);
        }
        for (const completion of result.completions) {
          countBatchEnded(completion.status, completion.elapsedMs);
          const parent = spans.get(completion.batchId);
          const attributes = {
            [ATTR.batchId]: completion.batchId,
            [ATTR.status]: completion.status,
            [ATTR.total]: completion.total,
            [ATTR.done]: completion.done,
            [ATTR.failed]: completion.failed,
            [ATTR.elapsedMs]: completion.elapsedMs,
            [ATTR.worker]: this.workerId,
          };
          const ctx = parent ? trace.setSpan(ROOT_CONTEXT, parent) : batchContext(this.traceParents.get(completion.batchId));
          tracer().startSpan('batch complete', { attributes }, ctx).end();
        }
        for (const span of spans.values()) span.end();
      },
      fail: (err) => {
        for (const span of spans.values()) {
          failSpan(span, err);
          span.end();
        }
      },
    };
  }

  /** Reads the traceparents of batches not seen before; a failed read only costs those spans their parent. */
  private async lookUp(batchIds: string[]): Promise<void> {
    const unseen = batchIds.filter((id) => !this.traceParents.has(id));
    if (unseen.length === 0) return;
    const found = await findTraceParents(this.sql, unseen).catch(() => new Map<string, string>());
    for (const id of unseen) {
      if (this.traceParents.size >= CACHE_MAX) this.traceParents.delete(this.traceParents.keys().next().value!);
      this.traceParents.set(id, found.get(id) ?? null);
    }
  }
}

function countByBatch(jobs: { data: unknown }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const job of jobs) {
    const batchId = (job.data as { batchId?: unknown } | null)?.batchId;
    // A malformed payload fails in the handler, with its own message; here it is just not counted.
    if (typeof batchId === 'string' && /^[0-9a-f-]{36}$/i.test(batchId)) counts.set(batchId, (counts.get(batchId) ?? 0) + 1);
  }
  return counts;
}
