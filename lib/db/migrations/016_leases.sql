-- Leases: cells handed over HTTP to a worker in any language, for a time (the pull queue of the
-- contract's "Leases"). The jobs stay active in pg-boss while the lease lives (a web server touches
-- them, as a built-in worker's heartbeat would); a lease that ends unfinished fails its jobs, so
-- pg-boss hands the cells out again with attempt + 1. `ended_at` is the fence: a lease is open
-- exactly while it is null and `expires_at` is ahead, and completing or extending takes its row lock.
create table leases (
  id uuid primary key,
  token_hash text not null,
  worker_id text not null,
  tag text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- The furthest an extension may move expires_at: before pg-boss's own expiry of the jobs
  -- (started_on + expire_seconds) would take them back while the lease still runs.
  expires_at_most timestamptz not null,
  ended_at timestamptz,
  outcome text check (outcome in ('completed', 'expired')),
  -- [{ "id": job id, "queue": pg-boss queue, "batchId", "row", "col", "attempt" }, ...]
  jobs jsonb not null
);
create index leases_open_idx on leases (expires_at) where ended_at is null;
create index leases_ended_idx on leases (ended_at) where ended_at is not null;

-- Lease requests per worker token per second, for the per-token rate limit (any web server counts).
create table lease_request_counts (
  token_hash text not null,
  second timestamptz not null,
  requests int not null,
  primary key (token_hash, second)
);

-- A lease client is a worker without a process of ours.
alter table workers alter column pid drop not null;
