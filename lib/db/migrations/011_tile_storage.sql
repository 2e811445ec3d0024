-- A picture's tile (3 KB at 32 px) and a recording's event payload were compressed by PostgreSQL's
-- TOAST on every write and decompressed on every read: CPU on the very cores that render tiles,
-- for bytes that barely shrink (rendered pixels, base64 text). Keep tiles up to a page inline and
-- uncompressed, and store event payloads out of line without compression.
alter table cells set (toast_tuple_target = 8160);
alter table cells alter column tile set storage external;
alter table socket_io_attachments alter column payload set storage external;
