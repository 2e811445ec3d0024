/** The lease API's token of the app under test (playwright.config.ts gives it to the app as WORKER_TOKEN). */
export const E2E_WORKER_TOKEN = 'e2e-worker-token';
