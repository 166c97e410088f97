// `fastmcp-bridge/express`: an Express front door for a Bridge. Every
// workspace gets an MCP streamable HTTP endpoint, and the management routes
// report and control workspaces and serve their logs, events, health and
// Prometheus metrics. Uses nothing of fastmcp-bridge but its public API.
import express from 'express';

import { checkApiBase, DASHBOARD_CSP, dashboardRoutes } from './dashboard.js';
import { fromBodyParser, isAnswerable, restErrorFor, RouterError, routerErrorCodes, rpcErrorFor, statusCode } from './errors.js';
import { principalLimits } from './limits.js';
import { EVENTS_KEEPALIVE_MS, managementRoutes } from './management.js';
import { bridgeMetrics } from './metrics.js';
import { mcpRoutes, SUPPORTED_PROTOCOL_VERSIONS } from './mcp.js';
import { MAX_BUFFERED_BYTES } from './sse.js';
import { guards, normalizeHost, normalizeOrigin, WORKSPACE_ID_PATTERN } from './security.js';

export { DASHBOARD_CSP, RouterError, routerErrorCodes, statusCode, SUPPORTED_PROTOCOL_VERSIONS, WORKSPACE_ID_PATTERN };

const DEFAULTS = Object.freeze({
  maxBodyBytes: 4 * 1024 * 1024,
  maxSessions: 1000,
  sessionIdleMs: 30 * 60 * 1000,
  eventsKeepAliveMs: EVENTS_KEEPALIVE_MS,
  maxStreamBufferBytes: MAX_BUFFERED_BYTES,
});
const SECURITY_KEYS = ['allowedOrigins', 'allowedHosts', 'authenticate', 'authorize', 'allowUnauthenticatedRemote'];
const ROUTER_KEYS = new Set([...SECURITY_KEYS, 'rateLimit', 'maxBodyBytes', 'maxSessions', 'sessionIdleMs', 'management', 'eventsKeepAliveMs', 'maxStreamBufferBytes', 'dashboard']);
const MANAGEMENT_KEYS = new Set([...SECURITY_KEYS, 'eventsKeepAliveMs', 'maxStreamBufferBytes']);
const DASHBOARD_KEYS = new Set([...SECURITY_KEYS, 'apiBase', 'mcpBase']);

function checkBridge(bridge, where) {
  if (!bridge || typeof bridge.session !== 'function' || typeof bridge.metrics !== 'function' || typeof bridge.hasWorkspace !== 'function') {
    throw new TypeError(`${where}(bridge): expected a Bridge (new Bridge({ workspaces }) from fastmcp-bridge)`);
  }
}

function checkRateLimit(limits, where) {
  if (limits === undefined) return;
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) {
    throw new TypeError(`${where}: rateLimit must be an object, e.g. { requestsPerSecond: 10, concurrentRequests: 4 }`);
  }
  for (const key of Object.keys(limits)) {
    if (!['requestsPerSecond', 'concurrentRequests', 'key'].includes(key)) {
      throw new TypeError(`${where}: rateLimit: unknown option ${JSON.stringify(key)} (known: requestsPerSecond, concurrentRequests, key)`);
    }
  }
  for (const key of ['requestsPerSecond', 'concurrentRequests']) {
    const value = limits[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new TypeError(`${where}: rateLimit.${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.key !== undefined && typeof limits.key !== 'function') {
    throw new TypeError(`${where}: rateLimit.key must be a function, e.g. (req) => req.auth.tenant`);
  }
}

function checkOptions(options, known, where) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object`);
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new TypeError(`${where}: unknown option ${JSON.stringify(key)} (known: ${[...known].join(', ')})`);
    }
  }
  for (const key of ['maxBodyBytes', 'maxSessions', 'sessionIdleMs', 'eventsKeepAliveMs', 'maxStreamBufferBytes']) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new TypeError(`${where}: ${key} must be a positive integer, got ${String(value)} (default ${DEFAULTS[key]})`);
    }
  }
  for (const key of ['authenticate', 'authorize']) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new TypeError(`${where}: ${key} must be a function, e.g. ${key === 'authenticate' ? '(req) => principal | null' : '(principal, workspaceId, req) => boolean'}`);
    }
  }
  if (options.allowUnauthenticatedRemote !== undefined && typeof options.allowUnauthenticatedRemote !== 'boolean') {
    throw new TypeError(`${where}: allowUnauthenticatedRemote must be a boolean (true serves peers beyond loopback without authenticate)`);
  }
  checkRateLimit(options.rateLimit, where);
  if (options.management !== undefined && typeof options.management !== 'boolean') {
    throw new TypeError(`${where}: management must be a boolean (false leaves the REST routes out; see managementRouter)`);
  }
  const origins = options.allowedOrigins ?? [];
  if (!Array.isArray(origins)) {
    throw new TypeError(`${where}: allowedOrigins must be an array of origins, e.g. ["https://app.example.com"]`);
  }
  const hosts = options.allowedHosts ?? [];
  if (hosts !== false && !Array.isArray(hosts)) {
    throw new TypeError(`${where}: allowedHosts must be an array of hosts, e.g. ["mcp.example.com"], or false`);
  }
  return {
    allowedOrigins: new Set(origins.map(normalizeOrigin)),
    allowedHosts: hosts === false ? null : new Set(hosts.map(normalizeHost)),
    allowUnauthenticatedRemote: options.allowUnauthenticatedRemote === true,
  };
}

/**
 * The `dashboard` option of bridgeRouter: null when off, else the page's
 * `{ apiBase, mcpBase }`. Without the management routes the page needs them
 * elsewhere; the MCP endpoints are this router's (`..` from the page).
 */
function checkDashboard(options) {
  const { dashboard } = options;
  if (dashboard === undefined || dashboard === false) return null;
  if (dashboard !== true && (dashboard === null || typeof dashboard !== 'object' || Array.isArray(dashboard))) {
    throw new TypeError('bridgeRouter: dashboard must be a boolean or an object, e.g. { apiBase: "/api" }');
  }
  const given = dashboard === true ? {} : dashboard;
  for (const key of Object.keys(given)) {
    if (key !== 'apiBase' && key !== 'mcpBase') {
      throw new TypeError(`bridgeRouter: dashboard: unknown option ${JSON.stringify(key)} (known: apiBase, mcpBase)`);
    }
  }
  if (options.management === false && given.apiBase === undefined) {
    throw new TypeError('bridgeRouter: the dashboard needs the management routes: drop management: false, or set dashboard.apiBase to where managementRouter is mounted');
  }
  return {
    apiBase: checkApiBase(given.apiBase, 'bridgeRouter: dashboard', 'apiBase'),
    mcpBase: checkApiBase(given.mcpBase, 'bridgeRouter: dashboard', 'mcpBase'),
  };
}

/** Answers the router's own errors (JSON-RPC on the MCP endpoint, REST elsewhere); passes the rest on. */
function errorHandler(maxBodyBytes) {
  return (raw, req, res, next) => {
    const err = fromBodyParser(raw, maxBodyBytes);
    if (!isAnswerable(err)) {
      if (err && typeof err === 'object') err.status ??= statusCode(err);
      return next(err);
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    const status = statusCode(err);
    if (err instanceof RouterError && err.code === 'METHOD_NOT_ALLOWED') res.set('Allow', err.details.allow);
    if (status === 401) res.set('WWW-Authenticate', 'Bearer');
    if (res.locals.fastmcpBridgeApi === 'mcp') {
      const body = req.body;
      const id = body && typeof body === 'object' && !Array.isArray(body) ? body.id : null;
      res.status(status).json(rpcErrorFor(id, err));
    } else {
      res.status(status).json(restErrorFor(err));
    }
  };
}

/**
 * Creates the router: the MCP endpoint `/workspaces/:id/mcp`, unless
 * `management: false` the management routes, and with `dashboard` the
 * operator page at `/dashboard/`. See index.d.ts.
 * @param {import('fastmcp-bridge').Bridge} bridge
 * @param {import('./index.js').BridgeRouterOptions} [options]
 * @returns {import('express').Router & { close(): Promise<void> }}
 */
export function bridgeRouter(bridge, options = {}) {
  checkBridge(bridge, 'bridgeRouter');
  const allowed = checkOptions(options, ROUTER_KEYS, 'bridgeRouter');
  const dashboard = checkDashboard(options);
  // `??` per key: an option given as undefined takes its default too.
  const { maxBodyBytes, maxSessions, sessionIdleMs, eventsKeepAliveMs, maxStreamBufferBytes } = Object.fromEntries(
    Object.entries(DEFAULTS).map(([key, value]) => [key, options[key] ?? value]),
  );
  const metrics = bridgeMetrics(bridge);
  const shared = guards({ bridge, ...allowed, authenticate: options.authenticate, authorize: options.authorize });

  const router = express.Router();
  const limits = principalLimits(options.rateLimit);
  const mcp = mcpRoutes(router, { bridge, guards: shared, limits, maxBodyBytes, maxSessions, sessionIdleMs, maxStreamBufferBytes, metrics });
  const removeSource = metrics.addSessionSource((id) => mcp.sessionCount(id));
  const management = options.management === false
    ? null
    : managementRoutes(router, { bridge, guards: shared, metrics, authorize: options.authorize, eventsKeepAliveMs, maxStreamBufferBytes });
  if (dashboard !== null) dashboardRoutes(router, { guards: shared, authorize: options.authorize, ...dashboard });
  router.use(errorHandler(maxBodyBytes));

  routerDirect.set(router, mcp.direct);

  /** Ends every MCP session of this router (their upstream sessions too) and its event streams. */
  router.close = async () => {
    removeSource();
    management?.close();
    await mcp.close();
  };
  return router;
}

/** The MCP endpoint's front-door part of each `bridgeRouter`, for `withMcpFastPath`. */
const routerDirect = new WeakMap();

/**
 * A request listener for `http.createServer` that serves the POSTs of MCP
 * sessions to `router`'s MCP endpoints itself, before Express, and hands
 * every other request to `app` (where `router` is mounted at `prefix`).
 * See index.d.ts; the app's own middleware does not see the requests
 * served here.
 * @param {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void} app
 * @param {import('express').Router} router a `bridgeRouter`
 * @param {{ prefix?: string }} [options]
 * @returns {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void}
 */
export function withMcpFastPath(app, router, options = {}) {
  if (typeof app !== 'function') throw new TypeError('withMcpFastPath(app, router): app must be a request listener, e.g. an Express app');
  const direct = routerDirect.get(router);
  if (!direct) throw new TypeError('withMcpFastPath(app, router): router must come from bridgeRouter(bridge)');
  checkOptions(options, new Set(['prefix']), 'withMcpFastPath');
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/')))) {
    throw new TypeError('withMcpFastPath: prefix must be "" or a path such as "/api", where the router is mounted');
  }
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const path = new RegExp(`^${escaped}/workspaces/([^/?#]+)/mcp(?:\\?|$)`);
  return function mcpFastPath(req, res) {
    if (req.method !== 'POST' || req.headers['mcp-session-id'] === undefined) return app(req, res);
    const match = path.exec(req.url);
    if (match === null) return app(req, res);
    let id;
    try {
      id = decodeURIComponent(match[1]);
    } catch {
      return app(req, res);
    }
    direct(req, res, id, () => app(req, res), app);
  };
}

/**
 * The management routes alone (`GET /health`, `/workspaces`,
 * `/workspaces/:id`, `POST /workspaces/:id/start|stop|restart`,
 * `GET /workspaces/:id/logs`, `/events`, `/metrics`, `/openapi.json`), e.g.
 * to mount them on an internal port while
 * `bridgeRouter(bridge, { management: false })` faces clients.
 * @param {import('fastmcp-bridge').Bridge} bridge
 * @param {{ allowedOrigins?: string[], allowedHosts?: string[] | false, authenticate?: Function, authorize?: Function, allowUnauthenticatedRemote?: boolean, eventsKeepAliveMs?: number }} [options]
 * @returns {import('express').Router & { close(): Promise<void> }}
 */
export function managementRouter(bridge, options = {}) {
  checkBridge(bridge, 'managementRouter');
  const allowed = checkOptions(options, MANAGEMENT_KEYS, 'managementRouter');
  const shared = guards({ bridge, ...allowed, authenticate: options.authenticate, authorize: options.authorize });
  const router = express.Router();
  const management = managementRoutes(router, {
    bridge,
    guards: shared,
    metrics: bridgeMetrics(bridge),
    authorize: options.authorize,
    eventsKeepAliveMs: options.eventsKeepAliveMs ?? DEFAULTS.eventsKeepAliveMs,
    maxStreamBufferBytes: options.maxStreamBufferBytes ?? DEFAULTS.maxStreamBufferBytes,
  });
  router.use(errorHandler(DEFAULTS.maxBodyBytes));

  /** Ends the open event streams of this router. */
  router.close = async () => management.close();
  return router;
}

/**
 * The operator dashboard alone: the page at `/dashboard/`, its modules and
 * the browser libraries it uses, behind the same guards as the routes it
 * calls. The page calls the routes of a `bridgeRouter` (or
 * `managementRouter` and MCP endpoint) mounted at `apiBase`.
 * @param {import('fastmcp-bridge').Bridge} bridge
 * @param {import('./index.js').DashboardOptions} [options]
 * @returns {import('express').Router}
 */
export function bridgeDashboard(bridge, options = {}) {
  checkBridge(bridge, 'bridgeDashboard');
  const allowed = checkOptions(options, DASHBOARD_KEYS, 'bridgeDashboard');
  const apiBase = checkApiBase(options.apiBase, 'bridgeDashboard', 'apiBase');
  const mcpBase = options.mcpBase === undefined ? apiBase : checkApiBase(options.mcpBase, 'bridgeDashboard', 'mcpBase');
  const shared = guards({ bridge, ...allowed, authenticate: options.authenticate, authorize: options.authorize });
  const router = express.Router();
  dashboardRoutes(router, { guards: shared, authorize: options.authorize, apiBase, mcpBase });
  router.use(errorHandler(DEFAULTS.maxBodyBytes));
  return router;
}
