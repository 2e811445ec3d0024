import { expect, test } from '@playwright/test';

// The HTTP contract against the running app: every error in the contract's shape, nothing created.

// The newest batch's id: unchanged by a request that must create nothing.
const newestBatch = async (request: import('@playwright/test').APIRequestContext) =>
  ((await (await request.get('/api/batches?limit=1')).json()) as { batches: { id: string }[] }).batches[0]?.id ?? null;

test('creates a batch and reads it back', async ({ request }) => {
  const created = await request.post('/api/batches', { data: { rows: 3, cols: 4 } });
  expect(created.status()).toBe(201);
  const batch = await created.json();
  expect(batch).toMatchObject({ rows: 3, cols: 4, total: 12, done: 0, failed: 0, status: 'running', finishedAt: null });
  expect(new Date(batch.createdAt).toISOString()).toBe(batch.createdAt);

  await expect.poll(async () => (await (await request.get(`/api/batches/${batch.id}`)).json()).status).toBe('completed');
  const cells = (await (await request.get(`/api/batches/${batch.id}/cells`)).json()).cells;
  expect(cells).toHaveLength(12);
  for (const cell of cells) expect(cell.color).toMatch(/^#[0-9A-F]{6}$/);
  const list = (await (await request.get('/api/batches?limit=5')).json()).batches;
  expect(list.map((b: { id: string }) => b.id)).toContain(batch.id);
});

const invalid: [string, string, string | Buffer, number, string][] = [
  ['missing fields', 'application/json', '{}', 400, 'invalid_input'],
  ['zero rows', 'application/json', '{"rows":0,"cols":5}', 400, 'invalid_input'],
  ['string rows', 'application/json', '{"rows":"5","cols":5}', 400, 'invalid_input'],
  ['fractional cols', 'application/json', '{"rows":5,"cols":1.5}', 400, 'invalid_input'],
  ['out of range', 'application/json', '{"rows":1001,"cols":1}', 400, 'invalid_input'],
  ['unknown field', 'application/json', '{"rows":5,"cols":5,"admin":true}', 400, 'invalid_input'],
  ['prototype pollution', 'application/json', '{"rows":5,"cols":5,"__proto__":{"x":1}}', 400, 'invalid_input'],
  ['malformed JSON', 'application/json', '{"rows":5,', 400, 'invalid_input'],
  ['JSON array', 'application/json', '[5,5]', 400, 'invalid_input'],
  ['SQL fragment', 'application/json', '{"rows":"1; drop table batches","cols":5}', 400, 'invalid_input'],
  ['wrong content type', 'text/plain', '{"rows":5,"cols":5}', 415, 'unsupported_media_type'],
  ['oversized body', 'application/json', Buffer.alloc(64 * 1024, 0x20), 413, 'payload_too_large'],
];

for (const [name, type, body, status, code] of invalid) {
  test(`POST /api/batches rejects ${name} with ${status} ${code} and creates nothing`, async ({ request }) => {
    const before = await newestBatch(request);
    const response = await request.post('/api/batches', { headers: { 'content-type': type }, data: body });
    expect(response.status()).toBe(status);
    const json = await response.json();
    expect(json.error.code).toBe(code);
    expect(json.error.message).toMatch(/\w+/);
    expect(JSON.stringify(json)).not.toMatch(/at \w+ \(|select |insert /i);
    expect(await newestBatch(request)).toBe(before);
    expect((await request.get('/healthz')).status()).toBe(200);
  });
}

test('GET endpoints answer unknown ids and bad limits in the error shape', async ({ request }) => {
  for (const path of [
    '/api/batches/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61',
    '/api/batches/not-an-id',
    '/api/batches/x/cells',
    `/api/batches/${'a'.repeat(5000)}`,
  ]) {
    const response = await request.get(path);
    expect(response.status()).toBe(404);
    expect((await response.json()).error.code).toBe('not_found');
  }
  for (const limit of ['0', '101', 'abc', '-5']) {
    const response = await request.get(`/api/batches?limit=${limit}`);
    expect(response.status()).toBe(400);
    expect((await response.json()).error.code).toBe('invalid_input');
  }
  expect(await (await request.get('/healthz')).json()).toEqual({ ok: true });
});

test('ten concurrent POSTs with one Idempotency-Key create one batch', async ({ request }) => {
  const key = `e2e-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const responses = await Promise.all(
    Array.from({ length: 10 }, () => request.post('/api/batches', { headers: { 'idempotency-key': key }, data: { rows: 10, cols: 10 } })),
  );
  const statuses = responses.map((r) => r.status()).sort();
  expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
  const ids = new Set(await Promise.all(responses.map(async (r) => (await r.json()).id)));
  expect(ids.size).toBe(1);

  for (const bad of ['has space', 'x'.repeat(201), 'tab\there']) {
    const response = await request.post('/api/batches', { headers: { 'idempotency-key': bad }, data: { rows: 1, cols: 1 } });
    expect(response.status()).toBe(400);
    expect((await response.json()).error.code).toBe('invalid_input');
  }
});
