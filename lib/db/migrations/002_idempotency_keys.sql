-- A client's Idempotency-Key: the same key always names the same batch.
alter table batches add column idempotency_key text;
create unique index batches_idempotency_key_idx on batches (idempotency_key) where idempotency_key is not null;
