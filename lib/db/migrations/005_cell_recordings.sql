-- Workers now write a fetch's cells before they lock the batch row, and lock it only for the
-- counter update and the commit, so the recordings of one batch no longer queue behind each other.
-- The event number is only known under that lock, so a cell no longer carries it: it carries the
-- transaction that recorded it, and each cells event names the recording whose cells it announced.
create table cell_events (
  batch_id uuid not null,
  seq bigint not null,
  recording bigint not null,
  primary key (batch_id, seq)
);

alter table cells add column recording bigint not null default 0;
-- Cells recorded before this migration keep their event number as a (negative) recording of its own.
insert into cell_events (batch_id, seq, recording)
  select distinct batch_id, seq, -seq from cells where seq > 0;
update cells set recording = -seq where seq > 0;
alter table cells alter column recording drop default;

drop index cells_batch_seq_idx;
alter table cells drop column seq;
create index cells_batch_recording_idx on cells (batch_id, recording);

-- Each cell's foreign key check share-locked its batch row, row by row, against the counter update
-- of every other recording. Cells are only written for a running batch (checked in the insert and
-- again under the lock), and retention deletes a batch's cells and events with it.
alter table cells drop constraint cells_batch_id_fkey;
