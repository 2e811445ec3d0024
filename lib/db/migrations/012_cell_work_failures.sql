-- A cell's retry budget counts only the attempts whose own work failed (paint or render threw, the
-- tile ran out of time), not the attempts lost to infrastructure (a worker killed or frozen, a
-- PostgreSQL restart, a recording rolled back): pg-boss counts every claim of a job, so the count of
-- real failures lives here. A row exists only for a cell whose work failed at least once, so the
-- table stays tiny; it goes with its batch.
create table cell_work_failures (
  batch_id uuid not null references batches (id) on delete cascade,
  row_no int not null,
  col_no int not null,
  failures int not null,
  primary key (batch_id, row_no, col_no)
);
