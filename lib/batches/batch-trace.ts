import type { Span } from '@opentelemetry/api';
import { findTraceParents } from '../db/batches';
import type { Sql } from '../db/sql';
import { ATTR, batchContext, inSpan, linkToActive } from '../telemetry/trace';

/**
 * Runs `fn` in a span of the batch's own trace (read from its row), linked to the span that asked
 * (an HTTP request's, say). With tracing off the span is the OpenTelemetry API's no-op; the lookup
 * stays, one read by primary key, as a batch ends early (cancel, expiry) rarely.
 */
export async function inBatchTrace<T>(sql: Sql, batchId: string, name: string, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  const traceParent = (await findTraceParents(sql, [batchId])).get(batchId) ?? null;
  return inSpan(name, batchContext(traceParent), { attributes: { [ATTR.batchId]: batchId }, links: linkToActive() }, fn);
}
