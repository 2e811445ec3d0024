-- Batches that start later, and recurring batches (docs/api.md, "Starting later" and "Schedules").
--
-- A batch created with startAt / startInSeconds waits as `scheduled`, with no jobs, until its start
-- job flips it to `running` and fans it out. `start_at` is when it starts (planned while scheduled,
-- the actual start once running); null for a batch that started when it was created. Its deadline
-- counts from the start: while scheduled, `deadline_at` is start_at plus deadlineSeconds, and the
-- start moves both together.
alter table batches add column start_at timestamptz;
-- The schedule whose tick created the batch, if any (kept when the schedule is deleted: it is a label).
alter table batches add column schedule text;

alter table batches drop constraint batches_status_check;
alter table batches add constraint batches_status_check
  check (status in ('scheduled', 'running', 'completed', 'cancelled', 'expired'));
-- 001's "running exactly while unfinished" check has a generated name: found by what it says.
do $$
declare c record;
begin
  for c in select conname from pg_constraint
           where conrelid = 'batches'::regclass and contype = 'c'
             and pg_get_constraintdef(oid) like '%finished_at IS NULL%' and pg_get_constraintdef(oid) like '%''running''%'
  loop
    execute format('alter table batches drop constraint %I', c.conname);
  end loop;
end $$;
alter table batches add constraint batches_unfinished_check
  check ((status in ('scheduled', 'running')) = (finished_at is null));
alter table batches add constraint batches_scheduled_start_check check (status <> 'scheduled' or start_at is not null);

-- Few rows: what the capacity cap reserves, and what the late-start safety net looks for.
create index batches_scheduled_idx on batches (start_at) where status = 'scheduled';

-- Recurring batches. pg-boss keeps the cron itself (its schedule table, key = name) and sends one
-- job per tick; this row keeps what each tick starts and what the last one started.
create table schedules (
  name text primary key check (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  cron text not null,
  timezone text not null,
  batch jsonb not null,
  created_at timestamptz not null default now(),
  last_batch_id uuid references batches (id) on delete set null,
  last_run_at timestamptz
);
