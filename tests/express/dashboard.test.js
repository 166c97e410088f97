// The operator dashboard: over plain HTTP, its routes (the page under its
// Content-Security-Policy, the browser libraries from node_modules, the
// authenticate / authorize guards); then in headless Chromium against the
// demo app with its real workspaces alpha and beta, a user's session: the
// page loads with no console error or CSP violation, shows both workspaces,
// starts and restarts them, follows the events feed and the log tail, calls
// `echo` from the tool console and finds the call in the request table; and
// a workspace with a progress tool shows the progress as it comes.
//
// Needs Chromium (the system's package; `npm run setup` installs it as
// root): without it the browser tests fail, saying how to install it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';
import { bridgeDashboard, bridgeRouter, DASHBOARD_CSP } from 'fastmcp-bridge/express';

import { chromiumMissing, launchChromium } from '../../scripts/lib/chromium.js';
import { startServer } from '../../examples/express-app/app.js';
import { bridgePids, eventually, initialize, isAlive, labDir, repoDir, serve, workspacesDir } from '../helpers.js';

const WAIT_MS = 30_000;
const require = createRequire(import.meta.url);
const nodeModules = path.join(repoDir, 'node_modules');

const EXPECTED_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

describe('dashboard routes over HTTP', () => {
  let bridge;
  let server;
  // `ops` may reach the workspace; `guest` is authenticated but may reach none.
  const authenticate = (req) => ({ 'Bearer ops': 'ops', 'Bearer guest': 'guest' })[req.get('authorization')] ?? null;
  const authorize = (principal) => principal === 'ops';
  const as = (who) => ({ headers: who ? { authorization: `Bearer ${who}` } : {}, redirect: 'manual' });

  before(async () => {
    bridge = new Bridge({ workspaces: { alpha: { dir: path.join(workspacesDir, 'alpha') } } });
    server = await serve((app) => {
      app.use('/api', bridgeRouter(bridge, { authenticate, authorize, dashboard: true }));
      app.use('/ops', bridgeDashboard(bridge, { authenticate, authorize, apiBase: '/api' }));
      // The management routes elsewhere: the tool console still uses this router's MCP endpoints.
      app.use('/mcp-only', bridgeRouter(bridge, { authenticate, authorize, management: false, dashboard: { apiBase: '/api' } }));
    });
  });

  after(async () => {
    await server?.close();
    await bridge?.close();
  });

  it('serves the page with a strict Content-Security-Policy and the routes\' base', async () => {
    assert.equal(DASHBOARD_CSP, EXPECTED_CSP);
    for (const [url, apiBase, mcpBase] of [
      [`${server.base}/api/dashboard/`, '..', '..'],
      [`${server.base}/ops/dashboard/`, '/api', '/api'],
      [`${server.base}/mcp-only/dashboard/`, '/api', '..'],
    ]) {
      const response = await fetch(url, as('ops'));
      assert.equal(response.status, 200, url);
      assert.match(response.headers.get('content-type'), /^text\/html/);
      assert.equal(response.headers.get('content-security-policy'), EXPECTED_CSP);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      const page = await response.text();
      assert.ok(page.includes(`<meta name="fastmcp-bridge-api" content="${apiBase}">`), `${url}: api base ${apiBase} not in the page`);
      assert.ok(page.includes(`<meta name="fastmcp-bridge-mcp" content="${mcpBase}">`), `${url}: MCP base ${mcpBase} not in the page`);
      // Nothing inline that the policy would refuse: scripts and styles are files.
      assert.doesNotMatch(page, /<script(?![^>]*\bsrc=)[^>]*>/);
      assert.doesNotMatch(page, /<style|\sstyle=/);
    }
  });

  it('redirects /dashboard to /dashboard/ and leaves unknown files to the app (404)', async () => {
    const redirect = await fetch(`${server.base}/api/dashboard?x=1`, as('ops'));
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/api/dashboard/?x=1');
    // Only the page's own files: not the page's template, nor anything else of its folder.
    for (const name of ['nothing.js', '/index.html', 'dashboard.test.js', '../index.js']) {
      const missing = await fetch(`${server.base}/api/dashboard/${name}`, as('ops'));
      assert.ok(missing.status === 404 || !(await missing.text()).includes('%API_BASE%'), name);
      if (name === 'nothing.js') assert.equal(missing.status, 404);
    }
  });

  it('serves its modules and the browser libraries from node_modules with their content types', async () => {
    const files = {
      'app.js': [/^text\/javascript|^application\/javascript/, path.join(repoDir, 'express-bridge', 'dashboard', 'app.js')],
      'style.css': [/^text\/css/, path.join(repoDir, 'express-bridge', 'dashboard', 'style.css')],
      'vendor/preact-htm.js': [/^text\/javascript|^application\/javascript/, path.join(nodeModules, 'htm', 'preact', 'standalone.module.js')],
      'vendor/uPlot.esm.js': [/^text\/javascript|^application\/javascript/, require.resolve('uplot/dist/uPlot.esm.js')],
      'vendor/uPlot.min.css': [/^text\/css/, require.resolve('uplot/dist/uPlot.min.css')],
      'vendor/eventsource-parser/index.js': [/^text\/javascript|^application\/javascript/, path.join(nodeModules, 'eventsource-parser', 'dist', 'index.js')],
      'vendor/eventsource-parser/stream.js': [/^text\/javascript|^application\/javascript/, path.join(nodeModules, 'eventsource-parser', 'dist', 'stream.js')],
    };
    for (const [name, [type, file]] of Object.entries(files)) {
      const response = await fetch(`${server.base}/ops/dashboard/${name}`, as('ops'));
      assert.equal(response.status, 200, name);
      assert.match(response.headers.get('content-type'), type, name);
      assert.equal(response.headers.get('content-security-policy'), EXPECTED_CSP, name);
      assert.equal(await response.text(), readFileSync(file, 'utf8'), `${name} is not ${file}`);
    }
  });

  it('runs authenticate (401) and authorize (403) on the page and its files', async () => {
    for (const mount of ['api', 'ops']) {
      for (const name of ['', 'app.js', 'vendor/uPlot.esm.js']) {
        const url = `${server.base}/${mount}/dashboard/${name}`;
        const anonymous = await fetch(url, as(null));
        assert.equal(anonymous.status, 401, url);
        assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
        assert.equal((await anonymous.json()).error.code, 'UNAUTHORIZED');
        const guest = await fetch(url, as('guest'));
        assert.equal(guest.status, 403, url);
        assert.equal((await guest.json()).error.code, 'FORBIDDEN');
        assert.equal((await fetch(url, as('ops'))).status, 200, url);
      }
    }
  });

  it('checks Host as the other routes do', async () => {
    // fetch sets Host itself; a raw request sends a foreign one.
    const { request } = await import('node:http');
    const status = await new Promise((resolve, reject) => {
      const req = request(`${server.base}/api/dashboard/`, { headers: { host: 'evil.example', authorization: 'Bearer ops' } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });

  it('refuses invalid options with a TypeError', () => {
    assert.throws(() => bridgeRouter(bridge, { dashboard: 'yes' }), TypeError);
    assert.throws(() => bridgeRouter(bridge, { dashboard: { title: 'x' } }), TypeError);
    assert.throws(() => bridgeRouter(bridge, { dashboard: { mcpBase: 'https://elsewhere.example' } }), TypeError);
    assert.throws(() => bridgeDashboard(bridge, { mcpBase: '//elsewhere.example' }), TypeError);
    assert.throws(() => bridgeRouter(bridge, { dashboard: true, management: false }), TypeError);
    assert.throws(() => bridgeDashboard(bridge, { apiBase: 'https://elsewhere.example/api' }), TypeError);
    assert.throws(() => bridgeDashboard(bridge, { apiBase: '' }), TypeError);
    assert.throws(() => bridgeDashboard(bridge, { maxSessions: 3 }), TypeError);
    assert.throws(() => bridgeDashboard({}, {}), TypeError);
  });
});

/**
 * A Chromium page that records console errors, uncaught exceptions, failed
 * requests and Content-Security-Policy violations.
 */
async function watchedPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (request) => {
    // EventSource and the polls are cut when the page closes; only count failures while it lives.
    if (!page.isClosed()) problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
  await page.exposeFunction('reportCspViolation', (text) => problems.push(`CSP violation: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.reportCspViolation(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return { page, problems, close: () => context.close() };
}

describe('dashboard in Chromium against the demo app', { timeout: 240_000 }, () => {
  let server;
  let browser;
  let watched;
  let page;

  before(async () => {
    assert.equal(chromiumMissing(), null, 'the dashboard tests need Chromium');
    server = await startServer({ port: 0, token: '' });
    browser = await launchChromium();
    watched = await watchedPage(browser);
    page = watched.page;
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  const row = (id) => page.locator(`#workspace-table tr[data-workspace="${id}"]`);
  const stateOf = (id) => row(id).locator('[data-field="state"]');

  it('loads with both demo workspaces, with no console error or CSP violation', async () => {
    const response = await page.goto(`${server.url}/dashboard/`);
    assert.equal(response.status(), 200);
    assert.equal(response.headers()['content-security-policy'], EXPECTED_CSP);
    await row('alpha').waitFor({ timeout: WAIT_MS });
    await row('beta').waitFor({ timeout: WAIT_MS });
    assert.equal(await stateOf('alpha').textContent(), 'stopped');
    assert.equal(await stateOf('beta').textContent(), 'stopped');
    // The events feed is connected (its EventSource opened).
    await page.locator('#events-title .dot.on').waitFor({ timeout: WAIT_MS });
    assert.deepEqual(watched.problems, []);
  });

  it('starts both workspaces with their buttons; the states and the events feed follow', async () => {
    for (const id of ['alpha', 'beta']) {
      await page.getByRole('button', { name: `Start ${id}`, exact: true }).click();
    }
    for (const id of ['alpha', 'beta']) {
      await page.waitForFunction(
        (ws) => document.querySelector(`#workspace-table tr[data-workspace="${ws}"] [data-field="state"]`)?.textContent === 'ready',
        id,
        { timeout: WAIT_MS },
      );
      await page.locator(`#events-feed li[data-workspace="${id}"][data-type="state"]`, { hasText: 'starting → ready' }).waitFor({ timeout: WAIT_MS });
    }
    const pid = Number(await row('alpha').locator('[data-field="pid"]').textContent());
    assert.ok(isAlive(pid), `the pid shown for alpha (${pid}) is not a live process`);
    assert.ok(bridgePids().includes(pid), `the pid shown for alpha (${pid}) is not one of this test's workspace processes`);
  });

  it('restarts a workspace: the state shown changes, then the events feed and the pid', async () => {
    const pidBefore = await row('alpha').locator('[data-field="pid"]').textContent();
    const eventsBefore = await page.locator('#events-feed li[data-workspace="alpha"]').count();
    // Every state the badge shows from now on.
    await page.evaluate(() => {
      window.shownStates = [];
      const badge = () => document.querySelector('#workspace-table tr[data-workspace="alpha"] [data-field="state"]');
      new MutationObserver(() => {
        const text = badge()?.textContent;
        if (text && window.shownStates.at(-1) !== text) window.shownStates.push(text);
      }).observe(document.getElementById('workspace-table'), { subtree: true, childList: true, characterData: true });
    });
    await page.getByRole('button', { name: 'Restart alpha', exact: true }).click();
    await page.locator('#events-feed li[data-workspace="alpha"][data-type="state"]', { hasText: '→ stopping' }).first().waitFor({ timeout: WAIT_MS });
    await eventually(async () => (await page.locator('#events-feed li[data-workspace="alpha"]').count()) >= eventsBefore + 3, WAIT_MS);
    await page.waitForFunction(
      (before) => {
        const shown = document.querySelector('#workspace-table tr[data-workspace="alpha"]');
        return shown?.querySelector('[data-field="state"]')?.textContent === 'ready' && shown.querySelector('[data-field="pid"]')?.textContent !== before;
      },
      pidBefore,
      { timeout: WAIT_MS },
    );
    const shown = await page.evaluate(() => window.shownStates);
    assert.ok(shown.some((state) => state !== 'ready'), `the state shown never left ready: ${JSON.stringify(shown)}`);
    assert.equal(shown.at(-1), 'ready');
    const feed = await page.locator('#events-feed li[data-workspace="alpha"][data-type="state"]').allTextContents();
    assert.ok(feed.some((text) => text.includes('→ starting')), `no start in the feed: ${JSON.stringify(feed)}`);
    assert.equal(await stateOf('beta').textContent(), 'ready', 'beta was touched');
  });

  it('tails the focused workspace\'s log live', async () => {
    await page.locator('#log-tail .line').first().waitFor({ timeout: WAIT_MS });
    const lines = await page.locator('#log-tail .line').allTextContents();
    assert.ok(lines.some((line) => line.includes('fastmcp_workspace')), `no hub line in the log tail: ${JSON.stringify(lines.slice(-5))}`);
    await page.locator('#logs-title .dot.on').waitFor({ timeout: WAIT_MS });
    // New output with the page left alone: an MCP session opened on alpha's
    // endpoint makes the hub log its new transport.
    const transports = () => page.locator('#log-tail .line', { hasText: 'Created new transport' }).count();
    const before = await transports();
    await initialize(`${server.url}/workspaces/alpha/mcp`);
    await eventually(async () => (await transports()) > before, WAIT_MS);
  });

  it('lists the tools in the tool console and calls echo with JSON arguments', async () => {
    const console_ = page.locator('#tool-console');
    await console_.getByRole('button', { name: 'List tools' }).click();
    await console_.locator('button[data-tool="echo"]').waitFor({ timeout: WAIT_MS });
    const tools = await console_.locator('button[data-tool]').evaluateAll((buttons) => buttons.map((b) => b.dataset.tool));
    assert.ok(tools.includes('echo') && tools.includes('add'), `alpha's tools not listed: ${JSON.stringify(tools)}`);
    await console_.locator('button[data-tool="echo"]').click();
    assert.deepEqual(JSON.parse(await page.locator('#tool-args').inputValue()), { text: '' });
    await page.locator('#tool-args').fill(JSON.stringify({ text: 'hello from the dashboard test' }));
    await console_.getByRole('button', { name: 'Call echo' }).click();
    const result = page.locator('#tool-result');
    await result.waitFor({ timeout: WAIT_MS });
    assert.match(await result.getAttribute('class'), /\bok\b/);
    assert.equal(await result.locator('.content-text').textContent(), 'hello from the dashboard test');
  });

  it('shows the call in the request table and the per-tool figures', async () => {
    const call = page.locator('#request-table tbody tr', { has: page.locator('[data-field="name"]', { hasText: /^echo$/ }) });
    await call.first().waitFor({ timeout: WAIT_MS });
    assert.equal(await call.first().locator('[data-field="method"]').textContent(), 'tools/call');
    assert.equal(await call.first().locator('[data-field="outcome"]').textContent(), 'ok');
    // The outcome filter is applied server-side: no ok call is left when asking for errors.
    await page.locator('#requests select[name="outcome"]').selectOption('error');
    await page.locator('#requests .empty', { hasText: 'No matching calls.' }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#request-table tbody tr').count(), 0);
    await page.locator('#requests select[name="outcome"]').selectOption('');
    await call.first().waitFor({ timeout: WAIT_MS });
    const stats = page.locator('#stats-table tbody tr', { hasText: 'echo' });
    await stats.first().waitFor({ timeout: WAIT_MS });
    const cells = await stats.first().locator('th, td').allTextContents();
    assert.deepEqual(cells.slice(0, 5).map((c) => c.trim()), ['alpha', 'tools/call', 'echo', '1', '0']);
    assert.equal(await page.locator('#requests .chart canvas').count(), 2, 'the two uPlot charts are not drawn');
  });

  it('had no console error, failed request or CSP violation all along', () => {
    assert.deepEqual(watched.problems, []);
  });

  it('would have seen a CSP violation: an inline style element is refused and reported', async () => {
    await page.evaluate(() => {
      const style = document.createElement('style');
      style.textContent = 'body { color: red }';
      document.head.append(style);
    });
    await eventually(() => watched.problems.some((p) => p.startsWith('CSP violation: style-src')), WAIT_MS);
  });
});

describe('dashboard tool console progress', { timeout: 120_000 }, () => {
  let bridge;
  let server;
  let browser;

  before(async () => {
    assert.equal(chromiumMissing(), null, 'the dashboard tests need Chromium');
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } }, requestLog: { path: ':memory:' } });
    server = await serve((app) => app.use(bridgeRouter(bridge, { dashboard: true })));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await bridge?.close();
  });

  it('shows a tool\'s progress notifications as they come, then its result', async () => {
    const { page, problems } = await watchedPage(browser);
    await page.goto(`${server.base}/dashboard/`);
    const console_ = page.locator('#tool-console');
    await console_.getByRole('button', { name: 'List tools' }).click();
    await console_.locator('button[data-tool="progress"]').click({ timeout: WAIT_MS });
    // 1 s between steps: the first is surely shown before the result, also on a loaded machine.
    await page.locator('#tool-args').fill(JSON.stringify({ steps: 3, delay: 1 }));
    await console_.getByRole('button', { name: 'Call progress' }).click();
    // The first step is shown while the call still runs.
    await console_.locator('.progress li', { hasText: '1 / 3: step 1' }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator('#tool-result').count(), 0, 'the result came before the progress was shown');
    await page.locator('#tool-result').waitFor({ timeout: WAIT_MS });
    assert.deepEqual(await console_.locator('.progress li').allTextContents(), ['1 / 3: step 1', '2 / 3: step 2', '3 / 3: step 3']);
    assert.equal(await page.locator('#tool-result .content-text').textContent(), '3');
    assert.deepEqual(problems, []);
  });
});
