// The operator dashboard: one page (HTML, ES modules, CSS in ./dashboard/)
// and the browser libraries it imports, served from the installed npm
// packages. The page talks only to the router's REST, SSE and MCP routes.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import express from 'express';

import { RouterError } from './errors.js';

const require = createRequire(import.meta.url);

/** The page's own files. */
export const DASHBOARD_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dashboard');
/** The files of DASHBOARD_DIR served as they are (the page itself is served with its bases filled in). */
const OWN_FILES = ['app.js', 'charts.js', 'mcp-client.js', 'style.css'];

/**
 * The Content-Security-Policy of every dashboard response: nothing but this
 * server's own scripts, styles and connections; no inline script or style
 * element, no plugin, no framing.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The directory of an installed package, from an entry point its `exports` allow. */
function packageDir(name, entry, depth) {
  let dir = path.dirname(require.resolve(entry));
  for (let i = 0; i < depth; i++) dir = path.dirname(dir);
  if (!dir.endsWith(`${path.sep}${name}`)) throw new Error(`fastmcp-bridge/express: cannot locate the package ${name} (from ${entry})`);
  return dir;
}

/**
 * The browser modules the page imports, by their path under
 * `dashboard/vendor/`. Each is an ES module its package ships built, so
 * nothing is bundled at install time: htm's standalone build (preact, its
 * hooks and htm in one module), uPlot's ESM build and stylesheet, and
 * eventsource-parser (its stream module imports `./index.js`).
 */
function vendorFiles() {
  // htm's `exports` leave its files out of require.resolve; its main entry
  // (dist/htm.js) locates the package.
  const htm = packageDir('htm', 'htm', 1);
  const parser = path.dirname(require.resolve('eventsource-parser/package.json'));
  const files = {
    'preact-htm.js': path.join(htm, 'preact', 'standalone.module.js'),
    'uPlot.esm.js': require.resolve('uplot/dist/uPlot.esm.js'),
    'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
    'eventsource-parser/index.js': path.join(parser, 'dist', 'index.js'),
    'eventsource-parser/stream.js': path.join(parser, 'dist', 'stream.js'),
  };
  for (const [name, file] of Object.entries(files)) {
    if (!existsSync(file)) {
      throw new Error(`fastmcp-bridge/express: the dashboard's vendor/${name} is missing (${file}); reinstall fastmcp-bridge's dependencies`);
    }
  }
  return files;
}

/** `text` escaped for an HTML attribute value in double quotes. */
function escapeAttribute(text) {
  return text.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c]);
}

/** Default of `apiBase`: the routes are mounted where the dashboard is (the page is `<mount>/dashboard/`). */
export const DEFAULT_API_BASE = '..';

/**
 * Checks a base path of the page's routes (`apiBase`, `mcpBase`): a path
 * (absolute, or relative to the page's URL `<mount>/dashboard/`) without a
 * scheme, host, query or fragment.
 * @param {unknown} base
 * @param {string} where the option's owner, for the error
 * @param {string} name the option's name, for the error
 * @returns {string} without a trailing slash (`'/'` stays); `'..'` when undefined
 */
export function checkApiBase(base, where, name) {
  if (base === undefined) return DEFAULT_API_BASE;
  if (typeof base !== 'string' || base === '' || /^[a-z][a-z0-9+.-]*:|^\/\/|[?#\\\s]/i.test(base)) {
    throw new TypeError(`${where}: ${name} must be a path where bridgeRouter's routes are mounted, e.g. "/api" or ".." (relative to the page, <mount>/dashboard/), got ${JSON.stringify(base)}`);
  }
  return base.length > 1 ? base.replace(/\/+$/, '') || '/' : base;
}

/**
 * Adds the dashboard routes to `router`: `GET /dashboard/` (the page),
 * `GET /dashboard/<file>` (its modules and stylesheet) and
 * `GET /dashboard/vendor/<file>`; other paths fall through (404). Each is behind the router's guards (Host,
 * Origin, `authenticate`) and, with `authorize`, served only to a principal
 * that may reach at least one workspace.
 * @param {import('express').Router} router
 * @param {{ guards: ReturnType<import('./security.js').guards>, authorize?: Function, apiBase: string, mcpBase: string }} options
 */
export function dashboardRoutes(router, { guards, authorize, apiBase, mcpBase }) {
  const page = readFileSync(path.join(DASHBOARD_DIR, 'index.html'), 'utf8')
    .replace('%API_BASE%', () => escapeAttribute(apiBase))
    .replace('%MCP_BASE%', () => escapeAttribute(mcpBase));
  const vendor = vendorFiles();

  function headers(_req, res, next) {
    res.locals.fastmcpBridgeApi = 'rest';
    res.set({
      'Content-Security-Policy': DASHBOARD_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    next();
  }

  async function someWorkspace(req, _res, next) {
    if (!authorize) return next();
    try {
      const visible = await guards.visibleWorkspaces(req);
      if (visible.length === 0) return next(new RouterError('FORBIDDEN', 'not allowed to reach any workspace'));
    } catch (err) {
      return next(err);
    }
    next();
  }

  const dashboard = express.Router({ strict: true });
  dashboard.use(headers, ...guards.common, someWorkspace);
  dashboard.get(['/', '/index.html'], (req, res) => {
    // The page loads its modules by relative URLs: it must be served at a path ending in '/'.
    if (req.path === '/' && !req.originalUrl.split('?')[0].endsWith('/')) {
      const [pathname, query] = req.originalUrl.split(/\?(.*)/s);
      res.redirect(301, `${pathname}/${query ? `?${query}` : ''}`);
      return;
    }
    res.set('Cache-Control', 'no-store').type('html').send(page);
  });
  const files = {
    ...Object.fromEntries(OWN_FILES.map((name) => [name, path.join(DASHBOARD_DIR, name)])),
    ...Object.fromEntries(Object.entries(vendor).map(([name, file]) => [`vendor/${name}`, file])),
  };
  for (const [name, file] of Object.entries(files)) {
    dashboard.get(`/${name}`, (_req, res, next) => res.sendFile(file, (err) => err && next(err)));
  }
  router.use('/dashboard', dashboard);
}
