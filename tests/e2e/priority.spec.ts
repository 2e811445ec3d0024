import { expect, test } from '@playwright/test';

test('the start form takes an optional priority; the batch page and the dashboard show it', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('10');
  await page.getByLabel('Cols').fill('10');
  const priority = page.getByLabel(/Priority/);
  await expect(priority).toHaveValue('');
  await priority.fill('7');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const batchId = page.url().split('/').pop()!;
  await expect(page.getByTestId('priority')).toHaveText('priority 7');
  expect(await (await page.request.get(`/api/batches/${batchId}`)).json()).toMatchObject({ priority: 7 });
  await expect(page.getByTestId('banner')).toContainText('All 100 cells finished');

  // The dashboard lists it with its priority.
  await page.goto('/dashboard');
  const row = page
    .getByTestId('batches')
    .getByRole('row')
    .filter({ hasText: batchId.slice(0, 8) });
  await expect(row.getByTestId('batch-priority')).toHaveText('7');

  // Left empty, the server's default applies.
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('2');
  await page.getByLabel('Cols').fill('2');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('priority')).toHaveText('priority 0');

  // Out of range: the field is invalid and nothing starts.
  await page.goto('/');
  const field = page.getByLabel(/Priority/);
  await field.fill('101');
  expect(await field.evaluate((input) => (input as HTMLInputElement).validity.valid)).toBe(false);
  await page.getByRole('button', { name: 'Start' }).click();
  await expect(page).toHaveURL(/\/$/);
});
