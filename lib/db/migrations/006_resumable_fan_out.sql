-- A batch's jobs are enqueued a chunk per transaction after the batch row and its first chunk
-- commit, so workers start on a large batch at once. `enqueued` counts the cells whose jobs are in;
-- a fan-out cut short (its web server died) is resumed from there by any web server.
alter table batches add column enqueued integer not null default 0;
update batches set enqueued = total;
alter table batches add constraint batches_enqueued_check check (enqueued between 0 and total);
create index batches_fanning_out_idx on batches (created_at) where status = 'running' and enqueued < total;
