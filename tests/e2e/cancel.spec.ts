import { expect, test } from '@playwright/test';

// Cancelling: these run last, because a cancelled batch's queued jobs are cancelled in the
// background and keep the workers busy for a few seconds, which would skew the timing tests.

test('the Cancel button stops a running batch and the banner says so', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('400');
  await page.getByLabel('Cols').fill('400');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('progress')).toContainText(/^[1-9]/);
  await page.getByRole('button', { name: 'Cancel batch' }).click();
  await expect(page.getByTestId('banner')).toContainText(/Cancelled after .*: [\d,]+ of 160,000 cells had finished/);
  await expect(page.getByRole('button', { name: 'Cancel batch' })).toHaveCount(0);
});

// Another session's cancel is refused only where the operator token is asked (closed-by-default.test.ts):
// this local-only app without DASHBOARD_TOKEN makes every caller an operator, as the contract says.
test('cancel answers 200 once, then 409 already_finished; unknown ids 404', async ({ request }) => {
  // `request` keeps the session cookie POST /api/batches sets, as a script must: it owns the batch.
  const created = await request.post('/api/batches', { data: { rows: 300, cols: 300 } });
  expect(created.headers()['set-cookie']).toMatch(/^fl_session=[\w-]+; Path=\/; HttpOnly; SameSite=Lax/);
  const batch = await created.json();
  // 90,000 cells take seconds to paint; the cancel lands long before the last one.
  const cancelled = await request.post(`/api/batches/${batch.id}/cancel`);
  expect(cancelled.status()).toBe(200);
  expect(await cancelled.json()).toMatchObject({ id: batch.id, status: 'cancelled' });
  const again = await request.post(`/api/batches/${batch.id}/cancel`);
  expect(again.status()).toBe(409);
  expect((await again.json()).error.code).toBe('already_finished');
  const unknown = await request.post('/api/batches/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61/cancel');
  expect(unknown.status()).toBe(404);
});
