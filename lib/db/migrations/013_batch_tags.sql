-- Routing by tag: a batch's cells are taken only by workers serving its tag (WORKER_TAGS).
alter table batches add column tag text not null default 'default'
  check (tag ~ '^[a-z0-9][a-z0-9-]{0,31}$');

-- Workers read the running batches in the order they take their cells (highest priority, then
-- oldest), every quarter of a second each, from their batches' own queues.
create index batches_running_order_idx on batches (priority desc, created_at, id) where status = 'running';
