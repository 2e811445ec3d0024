-- A batch's priority: every one of its cell jobs is inserted with it, so pg-boss hands out the
-- cells of a higher-priority batch before the queued cells of lower ones.
alter table batches add column priority integer not null default 0;
alter table batches add constraint batches_priority_check check (priority between 0 and 100);
-- The W3C traceparent of the span that created the batch, when tracing is on: the fan-out chunks
-- and every worker that records its cells continue that trace, so one batch is one trace.
alter table batches add column trace_parent text;
