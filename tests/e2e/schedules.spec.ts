import { expect, test, type Page } from '@playwright/test';

// Starting later and recurring batches, on the pages: a batch started "in 3 s" from the start form,
// and a schedule added on the dashboard whose first tick starts a batch. The app is local-only and
// has no DASHBOARD_TOKEN, so the page's visitor is an operator (the API tests cover the token).

/** Marks the page, so that a reload (which would lose the mark) fails the test. */
async function markNoReload(page: Page) {
  await page.evaluate(() => ((window as unknown as { noReload?: boolean }).noReload = true));
}
const stillSamePage = (page: Page) => page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload === true);

test('start in 3 s from the start form: the page counts down, then turns live and completes without a reload', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('6');
  await page.getByLabel('Cols').fill('8');
  await page.getByLabel('Start in (s)').fill('3');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  await markNoReload(page);
  await expect(page.getByTestId('start-countdown')).toContainText(/Starts in 0:0[0-3]/);
  await expect(page.getByRole('button', { name: 'Cancel batch' })).toBeVisible();
  // The start arrives as an event: the countdown gives way to the live progress, then the finish.
  await expect(page.getByTestId('progress')).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('start-countdown')).toHaveCount(0);
  await expect(page.getByTestId('banner')).toContainText('All 48 cells finished');
  expect(await stillSamePage(page)).toBe(true);
});

test('a scheduled batch cancelled from its page never starts', async ({ page, request }) => {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('5');
  await page.getByLabel('Cols').fill('5');
  await page.getByLabel('Start in (s)').fill('600');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').at(-1)!;
  await expect(page.getByTestId('start-countdown')).toContainText(/Starts in 9:5\d|Starts in 10:00/);
  await page.getByRole('button', { name: 'Cancel batch' }).click();
  await expect(page.getByTestId('banner')).toContainText(/Cancelled/);
  const batch = await (await request.get(`/api/batches/${id}`)).json();
  expect(batch).toMatchObject({ status: 'cancelled', enqueued: 0, done: 0 });
});

test('schedule a batch from the dashboard and watch its first tick start it', async ({ page, request }) => {
  // pg-boss ticks at most once a minute: the first tick comes within 60 s, plus a few of forwarding.
  test.setTimeout(180_000);
  const name = `e2e-${Date.now().toString(36)}`;
  await page.goto('/dashboard');
  const panel = page.getByTestId('schedules');
  await expect(panel).toBeVisible();
  await panel.getByLabel('Name').fill(name);
  await panel.getByLabel('Cron').fill('* * * * *');
  await panel.getByLabel('Time zone').fill('UTC');
  await panel.getByLabel('Rows').fill('4');
  await panel.getByLabel('Cols').fill('5');
  await panel.getByRole('button', { name: 'Add schedule' }).click();
  const row = page.getByTestId(`schedule-${name}`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId('next-run')).not.toHaveText('—');
  await expect(row.getByTestId('last-batch')).toHaveText('none yet');

  // The first tick's batch shows up as the schedule's last batch; its page shows it finished.
  const link = row.getByTestId('last-batch').getByRole('link');
  await expect(link).toBeVisible({ timeout: 100_000 });
  await link.click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').at(-1)!;
  await expect(page.getByTestId('banner')).toBeVisible();
  const batch = await (await request.get(`/api/batches/${id}`)).json();
  expect(batch).toMatchObject({ rows: 4, cols: 5, schedule: name, status: 'completed' });

  await page.goto('/dashboard');
  await page.getByTestId(`schedule-${name}`).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId(`schedule-${name}`)).toHaveCount(0);
  expect((await request.get('/api/schedules')).ok()).toBe(true);
  const left = (await (await request.get('/api/schedules')).json()) as { schedules: { name: string }[] };
  expect(left.schedules.map((s) => s.name)).not.toContain(name);
});
