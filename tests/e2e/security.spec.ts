import { type Browser, expect, test, type Page } from '@playwright/test';
import { io } from 'socket.io-client';
import type { DashboardSnapshot } from '../../lib/dashboard/types';
import { readGridPixels } from '../helpers/canvas-pixels';

// The pages work under their Content-Security-Policy: no violation, no console error, and a batch
// still paints over the same-origin WebSocket.

/** Collects CSP violations (reported in the page) and console errors from the first script on. */
async function watchForViolations(page: Page) {
  const problems: string[] = [];
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) =>
      seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return async () => [
    ...problems,
    ...(await page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [])),
  ];
}

test('home, batch and dashboard pages run under the CSP with no violations, and a batch paints to the banner', async ({ page }) => {
  const problems = await watchForViolations(page);
  const home = await page.goto('/');
  const csp = home!.headers()['content-security-policy'];
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
  expect(home!.headers()['x-frame-options']).toBe('DENY');
  await expect(page.getByRole('heading', { name: 'Recent batches' })).toBeVisible();
  expect(await problems()).toEqual([]);

  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('30');
  await page.getByLabel('Cols').fill('30');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId('banner')).toContainText('All 900 cells finished');
  // The canvas holds the stored colours: sample a cell.
  const batchId = page.url().split('/').pop()!;
  const { cells } = await (await page.request.get(`/api/batches/${batchId}/cells`)).json();
  const cell = cells[0] as { row: number; col: number; color: string };
  const { colors } = await readGridPixels(page, [cell]);
  expect(colors[0]).toBe(cell.color);
  expect(await problems()).toEqual([]);

  // A client-side navigation back home and a page that does not exist stay clean too.
  await page.getByRole('link', { name: '← Finish Line' }).click();
  await expect(page.getByRole('heading', { name: 'Finish Line' })).toBeVisible();
  await page.goto('/no-such-page');
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  expect((await problems()).filter((p) => !p.includes('404'))).toEqual([]);

  // The dashboard, with its live tables and chart, too.
  await page.goto('/dashboard');
  await expect(page.getByRole('heading', { name: 'Workers' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Batches' })).toBeVisible();
  await expect(page.getByText(batchId.slice(0, 8)).first()).toBeVisible();
  expect((await problems()).filter((p) => !p.includes('404'))).toEqual([]);

  // The watch does see violations: markup with an inline style attribute is refused and reported.
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<div style="color: red">x</div>'));
  await expect.poll(async () => (await problems()).some((p) => p.startsWith('style-src'))).toBe(true);
});

/**
 * Pauses intake through the dashboard's socket and waits until every live worker has stopped taking
 * cell jobs, so a batch started now stays running for as long as a test needs; returns the resume.
 */
async function holdIntake(baseURL: string): Promise<() => Promise<void>> {
  const dashboard = io(`${baseURL}/dashboard`, { transports: ['websocket'], forceNew: true });
  const allPaused = new Promise<void>((resolve) =>
    dashboard.on('dashboard:snapshot', (s: DashboardSnapshot) => {
      const live = s.workers.filter((w) => w.status === 'alive' || w.status === 'paused');
      if (live.length > 0 && live.every((w) => w.status === 'paused')) resolve();
    }),
  );
  await new Promise((resolve) => dashboard.emit('intake:pause', resolve));
  await allPaused;
  return async () => {
    await new Promise((resolve) => dashboard.emit('intake:resume', resolve));
    dashboard.disconnect();
  };
}

test('on this local-only app without DASHBOARD_TOKEN a viewer from another session may cancel too, as an operator', async ({
  page,
  browser,
  baseURL,
}) => {
  // Held, the batch is still running when its owner cancels it, however slow this machine is.
  const resume = await holdIntake(baseURL!);
  try {
    await viewerAndOwner(page, browser);
  } finally {
    await resume();
  }
});

async function viewerAndOwner(page: Page, browser: Browser) {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('400');
  await page.getByLabel('Cols').fill('400');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('button', { name: 'Cancel batch' })).toBeVisible();

  const stranger = await browser.newContext();
  try {
    const other = await stranger.newPage();
    await other.goto(page.url());
    // The contract asks for the operator token only beyond loopback: here everyone is an operator.
    // Where a token is asked, a stranger's `mayCancel: false` (the note instead of the button) and
    // 403 are tested in api-hardening.test.ts and closed-by-default.test.ts.
    await expect(other.getByRole('button', { name: 'Cancel batch' })).toBeVisible();
    await expect(other.getByTestId('cancel-not-yours')).toHaveCount(0);
  } finally {
    await stranger.close();
  }
  // The owner cancels; the banner says so.
  await page.getByRole('button', { name: 'Cancel batch' }).click();
  await expect(page.getByTestId('banner')).toContainText(/Cancelled after/);
}
