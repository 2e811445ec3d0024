-- Who started a batch, kept as hashes: `client_key` (the client's address) counts a client's
-- creations per minute and its running batches, across every web server; `owner_session` (its
-- session cookie) decides who may cancel it. Null for batches started before this, or by scripts
-- through the library rather than the API.
alter table batches add column client_key text;
alter table batches add column owner_session text;
create index batches_client_created_idx on batches (client_key, created_at) where client_key is not null;
create index batches_client_running_idx on batches (client_key) where status = 'running' and client_key is not null;
