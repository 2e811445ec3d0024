import {
  type Attributes,
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  context,
  trace,
} from '@opentelemetry/api';
import { errorMessage } from '../errors';

/**
 * Spans of a batch's one trace. Only the OpenTelemetry API is used here, so this module costs nothing
 * when tracing is off (no SDK registered: every span is a no-op and no trace context is stored) and
 * can be imported by route handlers, which Next bundles apart from server.ts: the API finds the
 * tracer provider server.ts registered through a process-wide global.
 *
 * A batch's trace starts at the span that creates it (`batch create`, a root span). Its W3C
 * traceparent is stored on the batch row, and every later span of the batch (the fan-out chunks,
 * each worker's recording of its cells, the completion, a cancel or expiry) starts from it, in
 * whichever process does the work.
 */

const SCOPE = 'finish-line';

/** Span attribute names, one place for all of them. */
export const ATTR = {
  batchId: 'finishline.batch.id',
  rows: 'finishline.batch.rows',
  cols: 'finishline.batch.cols',
  total: 'finishline.batch.total',
  priority: 'finishline.batch.priority',
  status: 'finishline.batch.status',
  done: 'finishline.batch.done',
  failed: 'finishline.batch.failed',
  elapsedMs: 'finishline.batch.elapsed_ms',
  replayed: 'finishline.batch.idempotent_replay',
  enqueuedFrom: 'finishline.fanout.from',
  enqueuedTo: 'finishline.fanout.to',
  outcome: 'finishline.fanout.outcome',
  cellsFetched: 'finishline.cells.fetched',
  cellsColored: 'finishline.cells.colored',
  cellsFailed: 'finishline.cells.failed',
  worker: 'finishline.worker.id',
} as const;

export function tracer() {
  return trace.getTracer(SCOPE);
}

/** A span's W3C traceparent (`00-<trace id>-<span id>-<flags>`), or null when it is not recorded. */
export function traceParentOf(span: Span): string | null {
  const sc = span.spanContext();
  if (!span.isRecording() || !trace.isSpanContextValid(sc)) return null;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Reads a stored traceparent back; null for anything that is not a valid version-00 one. */
export function parseTraceParent(value: string | null | undefined): SpanContext | null {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value ?? '');
  if (!match) return null;
  const sc: SpanContext = { traceId: match[1], spanId: match[2], traceFlags: Number.parseInt(match[3], 16), isRemote: true };
  return trace.isSpanContextValid(sc) ? sc : null;
}

/**
 * The context a batch's spans start from: its stored trace, or, for a batch started while tracing
 * was off, the root (its spans then make traces of their own).
 */
export function batchContext(traceParent: string | null | undefined): Context {
  const sc = parseTraceParent(traceParent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** A link to the span active in `ctx` (pg-boss's own span, an HTTP request's), if there is one. */
export function linkToActive(ctx: Context = context.active()): Link[] {
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? [{ context: sc }] : [];
}

/**
 * Runs `fn` in a span started under `parent` and active while it runs, so spans started inside it
 * (pg-boss's) become its children. A throw marks the span as failed and is rethrown.
 */
export async function inSpan<T>(
  name: string,
  parent: Context,
  options: { attributes?: Attributes; links?: Link[]; root?: boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(name, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

export function failSpan(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
}
