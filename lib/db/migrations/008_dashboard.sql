-- Intake of cell jobs, for every worker at once: one row, which workers read every second. Paused,
-- they stop fetching cell jobs (what they hold finishes); dead letters are still recorded.
create table intake_control (
  id boolean primary key default true check (id),
  paused boolean not null default false,
  changed_at timestamptz not null default now()
);
insert into intake_control (id) values (true);

-- What each worker last did about it, so the dashboard can show who has actually stopped.
alter table workers add column paused boolean not null default false;

-- Cells each worker served per second (of its own clock), written only for seconds with work; the
-- dashboard's throughput chart sums them. Retention keeps only the last hour.
create table throughput_samples (
  worker_id text not null,
  second timestamptz not null,
  cells integer not null check (cells > 0),
  primary key (worker_id, second)
);
create index throughput_samples_second_idx on throughput_samples (second);
