// Request guards shared by the MCP endpoint and the REST routes: Host and
// Origin validation, authentication, workspace id checks and authorization.
import { isIPv4 } from 'node:net';

import { BridgeError, WORKSPACE_ID_PATTERN } from 'fastmcp-bridge';

import { RouterError } from './errors.js';

/** Workspace ids the routes accept (the bridge's own); anything else is a 400 before any lookup. */
export { WORKSPACE_ID_PATTERN };

const LOCAL_HOSTNAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Normalizes an origin (`scheme://host[:port]`); throws a TypeError with a hint when it is not one. */
export function normalizeOrigin(origin) {
  let url;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError(`bridgeRouter: allowedOrigins entry ${JSON.stringify(origin)} is not an origin (e.g. "https://app.example.com")`);
  }
  if (url.origin === 'null' || url.pathname !== '/' || url.search || url.hash) {
    throw new TypeError(`bridgeRouter: allowedOrigins entry ${JSON.stringify(origin)} must be scheme://host[:port] only`);
  }
  return url.origin;
}

/** A Host header value: a DNS name or IPv4 address, or an IPv6 one in brackets, with an optional port. */
const HOST_VALUE = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** The host name of a valid Host value (`[::1]:80` → `[::1]`), lowercased. */
function hostName(host) {
  const lower = host.toLowerCase();
  return lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.split(':')[0];
}

/**
 * Normalizes an `allowedHosts` entry (`host` or `host:port`, as in a Host
 * header); throws a TypeError with a hint when it is not one.
 */
export function normalizeHost(host) {
  if (typeof host !== 'string' || !HOST_VALUE.test(host)) {
    throw new TypeError(`bridgeRouter: allowedHosts entry ${JSON.stringify(host)} is not a host (e.g. "mcp.example.com" or "mcp.example.com:8443")`);
  }
  return host.toLowerCase();
}

/**
 * Whether a request's Host header names this server: localhost, 127.0.0.1
 * or [::1] (any port), or one of `allowed` (as `host` for any port, or
 * `host:port`). `allowed === null` accepts every Host. A page on a foreign
 * domain that resolves to this machine (DNS rebinding) sends its own domain
 * as Host, and browsers send no `Origin` on same-origin GETs, so the Host
 * check is what refuses it. MCP 2025-06-18, Basic / Transports / Streamable
 * HTTP / Security Warning.
 * @param {string | undefined} host
 * @param {Set<string> | null} allowed normalized hosts
 */
export function isAllowedHost(host, allowed) {
  if (allowed === null) return true;
  if (typeof host !== 'string' || !HOST_VALUE.test(host)) return false;
  const name = hostName(host);
  return LOCAL_HOSTNAMES.has(name) || allowed.has(name) || allowed.has(host.toLowerCase());
}

/**
 * Whether a request's Origin header is allowed: absent, an http(s) origin on
 * localhost / 127.0.0.1 / [::1] (any port), or one of `allowed`.
 * MCP 2025-06-18, Basic / Transports / Streamable HTTP / Security Warning.
 * @param {string | undefined} origin
 * @param {Set<string>} allowed normalized origins
 */
export function isAllowedOrigin(origin, allowed) {
  if (origin === undefined) return true;
  let url;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.has(url.origin)) return true;
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOCAL_HOSTNAMES.has(url.hostname);
}

/**
 * Whether a peer's socket address is this machine's loopback: 127.0.0.0/8,
 * `::1`, either IPv4-mapped, or no address at all (a Unix domain socket).
 * The address is the TCP peer's, not a header's: a proxy on this machine
 * makes every client it forwards look local.
 * @param {string | undefined} address `req.socket.remoteAddress`
 */
export function isLoopbackPeer(address) {
  if (address === undefined) return true;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || (isIPv4(v4) && v4.startsWith('127.'));
}

/**
 * The guards of one route: Host, Origin, then `authenticate(req)`, then (for
 * routes with `:id`) the workspace id's shape, `authorize` and existence.
 * The principal is stored in `req.auth`. Without `authenticate`, only
 * loopback peers are served unless `allowUnauthenticatedRemote`: the Host
 * and Origin checks stop browsers, not other programs, which may send any
 * Host.
 */
export function guards({ bridge, allowedOrigins, allowedHosts, authenticate, authorize, allowUnauthenticatedRemote = false }) {
  let warned = false;

  function hostError(req) {
    const host = req.headers.host;
    if (isAllowedHost(host, allowedHosts)) return undefined;
    return new RouterError('FORBIDDEN_HOST', 'Host not allowed', { details: { host: host ?? null } });
  }

  function originError(req) {
    const origin = req.headers.origin;
    if (isAllowedOrigin(origin, allowedOrigins)) return undefined;
    return new RouterError('FORBIDDEN_ORIGIN', 'Origin not allowed', { details: { origin } });
  }

  /** Without `authenticate`: the loopback check, at once. */
  function peerError(req) {
    const peer = req.socket.remoteAddress;
    if (allowUnauthenticatedRemote || isLoopbackPeer(peer)) return undefined;
    if (!warned) {
      warned = true;
      process.emitWarning(
        `fastmcp-bridge/express: refused a request from ${peer}: without authenticate, only loopback peers are served. ` +
          'Set authenticate (see SECURITY.md), or allowUnauthenticatedRemote: true to serve every peer without it.',
        'FastMcpBridgeWarning',
      );
    }
    return new RouterError('FORBIDDEN', 'not a loopback peer, and no authenticate hook is set', { details: { peer: peer ?? null } });
  }

  /** With `authenticate`: its principal into `req.auth`, or the error. */
  async function authError(req) {
    let principal;
    try {
      principal = await authenticate(req);
    } catch (err) {
      const status = err?.status ?? err?.statusCode;
      if (status === 401 || status === 403) {
        return new RouterError(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', err.message || 'not authorized', { cause: err });
      }
      return err;
    }
    if (principal === undefined || principal === null || principal === false) {
      return new RouterError('UNAUTHORIZED', 'authentication required');
    }
    req.auth = principal;
    return undefined;
  }

  /** The workspace id's shape (400), then existence (404); `authorize` (403) comes between, in `workspaceError`. */
  function idError(id) {
    if (WORKSPACE_ID_PATTERN.test(id)) return undefined;
    return new RouterError('INVALID_WORKSPACE_ID', `workspace ids match ${WORKSPACE_ID_PATTERN}`, { details: { workspace: id } });
  }

  function existenceError(id) {
    if (bridge.hasWorkspace(id)) return undefined;
    return new BridgeError('UNKNOWN_WORKSPACE', `unknown workspace ${JSON.stringify(id)}`, { data: { workspace: id } });
  }

  async function authorizedError(req, id) {
    let allowed;
    try {
      allowed = await authorize(req.auth, id, req);
    } catch (err) {
      return err;
    }
    if (!allowed) return new RouterError('FORBIDDEN', 'not allowed to reach this workspace', { details: { workspace: id } });
    return existenceError(id);
  }

  /** Checks `req.params.id`: shape (400), authorization (403), then existence (404). */
  function workspaceError(req) {
    const { id } = req.params;
    const shape = idError(id);
    if (shape !== undefined) return shape;
    return authorize ? authorizedError(req, id) : existenceError(id);
  }

  /**
   * Every guard of a route with `:id`, in the order the middlewares run
   * them (Host, Origin, authentication, then the workspace): `undefined`
   * when the request passes, the error when it does not, or, while
   * `authenticate` or `authorize` runs, a promise of either. Synchronous
   * without those hooks, for the MCP endpoint's POSTs.
   * @returns {Error | undefined | Promise<Error | undefined>}
   */
  function checkRequest(req) {
    const early = hostError(req) ?? originError(req);
    if (early !== undefined) return early;
    if (!authenticate) return peerError(req) ?? workspaceError(req);
    return authError(req).then((err) => err ?? workspaceError(req));
  }

  /** A guard as a middleware. */
  const middleware = (check) => (req, _res, next) => {
    const outcome = check(req);
    if (outcome === undefined) return next();
    if (outcome instanceof Promise) return outcome.then((err) => next(err), next);
    next(outcome);
  };

  const checkHost = middleware(hostError);
  const checkOrigin = middleware(originError);
  const checkAuth = middleware((req) => (authenticate ? authError(req) : peerError(req)));
  const checkWorkspace = middleware(workspaceError);

  /** The workspace ids the request's principal may see. */
  async function visibleWorkspaces(req) {
    const ids = bridge.workspaceIds;
    if (!authorize) return ids;
    const allowed = await Promise.all(ids.map((id) => authorize(req.auth, id, req)));
    return ids.filter((_id, i) => allowed[i]);
  }

  return {
    common: [checkHost, checkOrigin, checkAuth],
    checkWorkspace,
    checkRequest,
    visibleWorkspaces,
    /** Whether `authenticate` or `authorize` is set (they are given the request). */
    hooked: Boolean(authenticate || authorize),
  };
}
