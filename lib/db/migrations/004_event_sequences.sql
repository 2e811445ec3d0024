-- Every event about a batch carries the next number of the batch's sequence, and every finished
-- cell records the number of the event that announced it, so a client that missed events can ask
-- for exactly the cells after the last number it applied.
alter table batches add column seq bigint not null default 0;
alter table cells add column seq bigint not null default 0;
create index cells_batch_seq_idx on cells (batch_id, seq);
