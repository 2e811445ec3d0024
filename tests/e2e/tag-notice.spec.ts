import { expect, test } from '@playwright/test';

// A batch whose tag no live worker serves says so on its page instead of waiting silently (the
// app's two workers serve `default` only), and it can still be cancelled.

test('a batch tagged for workers that are not there says no worker serves its tag', async ({ page }) => {
  const created = await page.request.post('/api/batches', { data: { rows: 3, cols: 4, tag: 'gpu', deadlineSeconds: 120 } });
  expect(created.status()).toBe(201);
  const { id } = (await created.json()) as { id: string };
  await page.goto(`/batches/${id}`);
  const notice = page.getByTestId('tag-unserved');
  await expect(notice).toContainText('No worker serves tag gpu');
  await expect(notice).toContainText('WORKER_TAGS=gpu');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(notice).toBeHidden();
});
