-- One row per batch: the fan-in counter and its single terminal transition live here.
create table batches (
  id uuid primary key,
  rows integer not null check (rows between 1 and 1000),
  cols integer not null check (cols between 1 and 1000),
  total integer not null check (total = rows * cols),
  done integer not null default 0,
  failed integer not null default 0,
  status text not null default 'running'
    check (status in ('running', 'completed', 'cancelled', 'expired')),
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  last_row integer,
  last_col integer,
  last_worker text,
  check (done >= 0 and failed >= 0 and done + failed <= total),
  check ((status = 'running') = (finished_at is null))
);

create index batches_created_at_idx on batches (created_at desc);

-- One row per finished cell. The primary key makes the first write win.
create table cells (
  batch_id uuid not null references batches (id) on delete cascade,
  row_no integer not null,
  col_no integer not null,
  color text not null check (color ~ '^#[0-9A-F]{6}$'),
  worker_id text not null,
  colored_at timestamptz not null default now(),
  primary key (batch_id, row_no, col_no)
);

-- Large Socket.IO broadcasts travel through this table (see @socket.io/postgres-adapter).
create table if not exists socket_io_attachments (
  id bigserial unique,
  created_at timestamptz default now(),
  payload bytea
);
