-- A batch is either random colours (v1) or a picture: a Mandelbrot view rendered a tile per cell.
alter table batches add column kind text not null default 'colors';
alter table batches add constraint batches_kind_check check (kind in ('colors', 'mandelbrot'));
alter table batches add column view_x double precision;
alter table batches add column view_y double precision;
alter table batches add column view_width double precision;
alter table batches add column max_iterations integer;
alter table batches add column tile_size integer;
alter table batches add constraint batches_picture_check check (
  (kind = 'mandelbrot') = (view_x is not null and view_y is not null and view_width is not null
                           and max_iterations is not null and tile_size is not null));
-- Colour batches may ask for simulated work per cell, so a presenter can slow a demo down.
alter table batches add column work_ms integer not null default 0;
alter table batches add constraint batches_work_ms_check check (work_ms between 0 and 5000);

-- The image stage: queued in the transaction that ends the batch, it stitches the cells into one
-- PNG, stored in parts, and sets image_at once (in the transaction that announces it).
alter table batches add column image_at timestamptz;
create table batch_images (
  batch_id uuid not null,
  part integer not null,
  bytes bytea not null,
  primary key (batch_id, part)
);

-- A picture cell's pixels: tile_size² RGB triples, row-major. Null for colour cells and failures.
alter table cells add column tile bytea;

-- What each worker holds right now, by batch ({"<batch id>": cells}), written about once a second
-- while it changes: the batch page's "what you are seeing" panel shows the cells in flight per worker.
alter table workers add column holding jsonb not null default '{}';
