-- A cell finishes either with a colour or, once its job exhausted its retries, with an error.
alter table cells alter column color drop not null;
alter table cells add column error text;
alter table cells add constraint cells_color_xor_error check ((color is null) <> (error is null));

-- Past its deadline a running batch ends as expired.
alter table batches add column deadline_at timestamptz;
update batches set deadline_at = created_at + interval '10 minutes' where deadline_at is null;
alter table batches alter column deadline_at set not null;
create index batches_running_deadline_idx on batches (deadline_at) where status = 'running';

-- One row per worker process, refreshed while it lives.
create table workers (
  id text primary key,
  host text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  cells_served bigint not null default 0,
  stopped_at timestamptz
);
