// `npm run screenshots`: the README's pictures of the dashboard. Starts the
// demo app (workspaces alpha and beta, as `npm run demo` does), opens the
// page in headless Chromium, starts both workspaces, restarts one and calls
// a few tools from the tool console, so that the events feed, the log tail,
// the request table and the charts have something to show; then writes
// docs/images/dashboard.png (the whole page) and
// docs/images/dashboard-console.png (the tool console). Needs what
// `npm run setup` makes (the addon, the Python venv, Chromium).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer } from '../examples/express-app/app.js';
import { launchChromium } from './lib/chromium.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const imagesDir = path.join(root, 'docs', 'images');
const WAIT_MS = 30_000;

const server = await startServer({ port: 0, token: '' });
let browser;
try {
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${server.url}/dashboard/`);

  const state = (id, wanted) =>
    page.waitForFunction(
      ([ws, s]) => document.querySelector(`#workspace-table tr[data-workspace="${ws}"] [data-field="state"]`)?.textContent === s,
      [id, wanted],
      { timeout: WAIT_MS },
    );
  for (const id of ['alpha', 'beta']) await page.getByRole('button', { name: `Start ${id}`, exact: true }).click();
  await state('alpha', 'ready');
  await state('beta', 'ready');
  await page.getByRole('button', { name: 'Restart beta', exact: true }).click();
  await state('beta', 'ready');

  // A few calls for the table and the charts.
  const tool = page.locator('#tool-console');
  await tool.getByRole('button', { name: 'List tools' }).click();
  const call = async (name, args) => {
    await tool.locator(`button[data-tool="${name}"]`).click({ timeout: WAIT_MS });
    await page.locator('#tool-args').fill(JSON.stringify(args));
    await tool.getByRole('button', { name: `Call ${name}` }).click();
    await page.locator('#tool-result').waitFor({ timeout: WAIT_MS });
  };
  for (let i = 1; i <= 6; i++) await call('add', { a: i, b: i * 2 });
  await call('time_get_current_time', { timezone: 'UTC' });
  await call('echo', { text: 'Hello from the dashboard' });

  // RSS and CPU come with the first health check (healthIntervalMs, 15 s by
  // default); the request views poll every 2 s (the per-tool figures every 4 s).
  await page.waitForFunction(
    () => [...document.querySelectorAll('#workspace-table [data-field="rss"]')].every((cell) => cell.textContent !== '–'),
    undefined,
    { timeout: 60_000 },
  );
  await page.waitForTimeout(4500);
  mkdirSync(imagesDir, { recursive: true });
  await page.screenshot({ path: path.join(imagesDir, 'dashboard.png'), fullPage: true });
  await tool.screenshot({ path: path.join(imagesDir, 'dashboard-console.png') });
  console.log(`wrote ${path.relative(root, path.join(imagesDir, 'dashboard.png'))} and dashboard-console.png`);
} finally {
  await browser?.close();
  await server.close();
}
