-- What an operator asked of one worker (GET/POST /api/workers): run; paused (fetch no cell jobs
-- until resumed, as the intake switch does for all); draining (finish what it holds, take nothing
-- more, exit). The worker reads it with the intake switch every second; `paused` stays what the
-- worker last did about either. A drain is final: a drained worker's row ends stopped.
alter table workers add column desired text not null default 'run' check (desired in ('run', 'paused', 'draining'));

-- The tags a worker serves (WORKER_TAGS): batches are routed to workers by tag.
alter table workers add column tags text[] not null default '{default}';
