import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Request, Router } from 'express';
import type { Bridge, LogLine, Metrics, WorkspaceState } from 'fastmcp-bridge';

/** Security options shared by {@link bridgeRouter} and {@link managementRouter}. */
export interface SecurityOptions {
  /**
   * Origins allowed besides requests without `Origin` and http(s) origins on
   * localhost, 127.0.0.1 and [::1] (any port), as `scheme://host[:port]`.
   * Any other `Origin` gets 403 `FORBIDDEN_ORIGIN` (MCP 2025-06-18, Basic /
   * Transports / Streamable HTTP / Security Warning). Default: `[]`.
   */
  allowedOrigins?: string[];
  /**
   * Hosts this server is reached by, besides localhost, 127.0.0.1 and [::1]
   * (any port): `host` (any port) or `host:port`, compared with the `Host`
   * header. Any other `Host` gets 403 `FORBIDDEN_HOST`: a page on a foreign
   * domain that resolves to this machine (DNS rebinding) sends its domain
   * as `Host`, and browsers send no `Origin` on same-origin GETs. Set the
   * app's public host names here when it is served under them (behind a
   * proxy, the `Host` the proxy forwards); `false` turns the check off.
   * Default: `[]`.
   */
  allowedHosts?: string[] | false;
  /**
   * Authenticates every request of every route (MCP and REST). Returns the
   * principal (any value but `null`, `undefined` or `false`; stored in
   * `req.auth`), or nothing for 401 `UNAUTHORIZED` with
   * `WWW-Authenticate: Bearer`. A thrown error with `status` 401 or 403 gives
   * that status; any other goes to `next(err)`. Default: none: then only
   * loopback peers are served (see `allowUnauthenticatedRemote`).
   */
  authenticate?: (req: Request) => unknown | Promise<unknown>;
  /**
   * Without `authenticate`, serve peers beyond loopback too. By default a
   * request whose TCP peer is not 127.0.0.0/8 or `::1` (a Unix socket
   * counts as local) gets 403 `FORBIDDEN` and the first one a process
   * warning: the Host and Origin checks stop browsers, not other programs.
   * A reverse proxy on this machine makes every client look local: set
   * `authenticate` behind one. Default: false. See SECURITY.md.
   */
  allowUnauthenticatedRemote?: boolean;
  /**
   * Whether `principal` may reach `workspaceId`; false gives 403 `FORBIDDEN`.
   * Also filters `GET /workspaces`. Default: every workspace.
   */
  authorize?: (principal: unknown, workspaceId: string, req: Request) => boolean | Promise<boolean>;
}

/** Options of the management routes, in {@link bridgeRouter} and {@link managementRouter}. */
export interface ManagementOptions extends SecurityOptions {
  /**
   * Period of the `: keepalive` comment on `GET /events`, in ms, so proxies
   * keep idle streams open. Default: 15000.
   */
  eventsKeepAliveMs?: number;
  /**
   * Bytes a long-lived SSE stream (`GET /events`; in {@link bridgeRouter}
   * also an MCP GET stream) may hold unsent, counted in Node's buffers (not
   * the kernel's socket buffers), before its client counts as too slow: a
   * write that finds more closes the stream instead when the stream has
   * not drained for 5 s since it passed the limit, or holds more than 4
   * times the limit. The client reconnects (on `GET /events` with
   * `Last-Event-ID`). The SSE answer to a POST has no limit.
   * Default: 1048576 (1 MiB).
   */
  maxStreamBufferBytes?: number;
}

/** Options of {@link bridgeRouter}. */
export interface BridgeRouterOptions extends ManagementOptions {
  /** Largest request body, in bytes; beyond it 413. Default: 4194304 (4 MiB). */
  maxBodyBytes?: number;
  /**
   * Open MCP sessions at most; `initialize` beyond it gets 503
   * `TOO_MANY_SESSIONS`. Apart from those, the upstream sessions kept for
   * sessionless (2026-07-28) clients, one per client identity, at most; when
   * full the least recently used idle one is closed, and with none idle a
   * new identity gets 503 `TOO_MANY_SESSIONS`. And, apart again, the
   * sessionless calls held for their client's input responses; one more
   * ends with 503 `TOO_MANY_SESSIONS`. Default: 1000.
   */
  maxSessions?: number;
  /**
   * Limits per principal on the MCP endpoint's POSTed requests (a GET
   * stream or a DELETE is not counted): beyond either, 429 `RATE_LIMITED`
   * with `Retry-After` (seconds). Default: none.
   */
  rateLimit?: {
    /** Requests per one-second window (express-rate-limit, fixed window). */
    requestsPerSecond?: number;
    /** Requests in flight at once. */
    concurrentRequests?: number;
    /**
     * The key the limits count by. Default: the principal (`req.auth`) when
     * it is a string or a number, else the peer address (IPv6 by its /56).
     */
    key?: (req: Request) => string;
  };
  /**
   * An MCP session with no request in flight, no GET stream and no request
   * for this long is ended (its id then gets 404), in ms. So is an
   * upstream session of sessionless clients unused for this long, and a
   * sessionless call waiting this long for the client's input responses is
   * cancelled. Default: 1800000 (30 min).
   */
  sessionIdleMs?: number;
  /** `false` leaves the management routes out (see {@link managementRouter}). Default: `true`. */
  management?: boolean;
  /**
   * Serves the operator dashboard at `/dashboard/` under this router's
   * guards (see {@link bridgeDashboard}): `true`, or `{ apiBase, mcpBase }`
   * when the REST routes the page calls are mounted elsewhere (`apiBase`,
   * required with `management: false`, else a TypeError). `mcpBase`
   * defaults to this router's own mount, whose MCP endpoints the tool
   * console uses. Default: `false`.
   */
  dashboard?: boolean | { apiBase?: string; mcpBase?: string };
}

/** Options of {@link bridgeDashboard}. */
export interface DashboardOptions extends SecurityOptions {
  /**
   * Where the routes of a {@link bridgeRouter} are mounted, which the page
   * calls: an absolute path (`'/api'`) or one relative to the page's URL,
   * `<mount>/dashboard/` (`'..'` is `<mount>`). No scheme or host: the page
   * talks to its own origin only (its Content-Security-Policy says
   * `connect-src 'self'`). Default: `'..'`, the dashboard's own mount.
   */
  apiBase?: string;
  /**
   * Where the MCP endpoints (`/workspaces/:id/mcp`) the tool console uses
   * are mounted, in the same form as `apiBase`. Default: `apiBase`.
   */
  mcpBase?: string;
}

/** The router of {@link bridgeRouter}. */
export interface BridgeRouter extends Router {
  /** Ends every MCP session of this router, their upstream sessions and its `GET /events` streams. */
  close(): Promise<void>;
}

/** The router of {@link managementRouter}. */
export interface ManagementRouter extends Router {
  /** Ends its open `GET /events` streams. */
  close(): Promise<void>;
}

/**
 * A workspace as the REST routes report it (`GET /workspaces`,
 * `GET /workspaces/:id`, and the answer of start, stop and restart): its
 * supervision status (fields the bridge does not have are `null`), open MCP
 * sessions and call metrics.
 */
export interface WorkspaceView {
  id: string;
  state: WorkspaceState;
  /** OS process id of the running process, else null. */
  pid: number | null;
  /** When the running process became ready, in ms since the epoch, else null. */
  startedAt: number | null;
  /**
   * Restarts by the supervisor: after a crash, a failed start, failed health
   * checks or the memory limit. Start, stop and restart on request are not counted.
   */
  restarts: number;
  /** How the last process ended: `'exit status N'` or `'signal N'`, else null. */
  lastExit: string | null;
  /** The last start failure, crash or health failure, else null. */
  lastError: string | null;
  /** Resident memory of the running process in bytes, sampled every `healthIntervalMs`, else null. */
  rssBytes: number | null;
  /** CPU use of the running process since the previous sample, in percent of one core, else null. */
  cpuPercent: number | null;
  /** Private memory (USS) of a forked process in bytes, which `maxMemoryMb` limits for it, else null. */
  ussBytes: number | null;
  /** Open MCP sessions of its endpoint (of every router on the same bridge). */
  sessions: number;
  metrics: Metrics;
}

/** The body of `GET /workspaces/:id/logs`: at most `lines` lines, oldest first. */
export interface WorkspaceLogs {
  id: string;
  lines: LogLine[];
}

/** The body of every REST error; the HTTP status comes from {@link statusCode}. */
export interface RestError {
  error: { code: string; message: string; details: unknown };
}

/** MCP revisions the endpoint negotiates, newest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[];

/** Workspace ids the routes accept: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`; others get 400. */
export const WORKSPACE_ID_PATTERN: RegExp;

/**
 * An Express router with, for every workspace of `bridge`, an MCP streamable
 * HTTP endpoint at `/workspaces/:id/mcp` (POST, GET, DELETE; MCP 2025-06-18
 * and 2025-11-25, Basic / Transports / Streamable HTTP), and unless
 * `management: false` the routes of {@link managementRouter}. The endpoint
 * also speaks the sessionless 2026-07-28 revision, chosen per POST by its
 * `MCP-Protocol-Version` (MCP 2026-07-28, Basic / Transports / Streamable
 * HTTP): `server/discover`, requests checked against their `Mcp-Method` /
 * `Mcp-Name` headers and `_meta` (errors -32602, -32020, -32022 with HTTP
 * 400), server requests relayed as `InputRequiredResult` rounds, and
 * cancellation by closing the response stream (the package README,
 * "Sessionless MCP 2026-07-28").
 *
 * @throws {TypeError} when `bridge` is not a Bridge or an option is unknown or invalid.
 */
export function bridgeRouter(bridge: Bridge, options?: BridgeRouterOptions): BridgeRouter;

/**
 * A request listener for `http.createServer` in front of an Express `app`
 * on which `router` (a {@link bridgeRouter}) is mounted at `prefix`
 * (default `''`, e.g. `'/api'` for `app.use('/api', router)`). It serves the
 * POSTs of MCP sessions to the router's MCP endpoints itself, before
 * Express's own dispatch, with the router's fast path (the request's bytes
 * relayed by the native core): the router's Host, Origin, `authenticate`
 * and `authorize` checks run (the hooks get an Express `Request`: the
 * app's request prototype is set for them, as Express sets it), and its
 * errors are answered as the router answers them. Everything else goes to `app` as it came: other routes and
 * methods, `initialize`, requests with uncommon `Accept` or `Content-Type`
 * values or compressed or chunked bodies, every request when the router
 * has `rateLimit`; and, read and checked already, requests the core leaves
 * to the parsed path (progress tokens, notifications, responses, `ping`).
 *
 * The app's own middleware does not see the requests served here (an
 * app-level logger or authentication, say): use it when the router's
 * options hold all the checks those requests need. An error the router
 * would pass on to the app's error handler (e.g. `authenticate` throwing
 * something without a 401/403 `status`) is answered 500, -32603, with a
 * process warning; a failed read of the body gets its own 4xx status.
 *
 * @example
 * ```js
 * const router = bridgeRouter(bridge, { authenticate });
 * app.use('/api', router);
 * http.createServer(withMcpFastPath(app, router, { prefix: '/api' })).listen(3000);
 * ```
 * @throws {TypeError} when `app` is not a function, `router` not a {@link bridgeRouter}, or `prefix` not `''` or a path without a trailing `/`.
 */
export function withMcpFastPath(
  app: (req: IncomingMessage, res: ServerResponse) => void,
  router: BridgeRouter,
  options?: { prefix?: string },
): (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The management routes alone, guarded by `allowedOrigins`, `authenticate`
 * and `authorize` as the MCP endpoint is; REST errors are {@link RestError}:
 *
 * - `GET /health`: `{ status: 'ok', workspaces, sessions }`.
 * - `GET /workspaces`: `{ workspaces: WorkspaceView[] }`, those `authorize` lets the principal reach, sorted by id.
 * - `GET /workspaces/:id`: {@link WorkspaceView} and `mcp`, the path of its MCP endpoint.
 * - `POST /workspaces/:id/start`: starts the process and answers once it is
 *   ready; `POST /workspaces/:id/stop?graceMs=N` and
 *   `POST /workspaces/:id/restart?graceMs=N` (`graceMs` 0..600000, default
 *   10000; see `Bridge.stop`) answer when done. Each answers the
 *   {@link WorkspaceView} afterwards; a start that fails gives 503
 *   `START_FAILED` (or `WORKSPACE_FAILED`, `CLOSED`).
 * - `GET /workspaces/:id/logs?lines=N`: {@link WorkspaceLogs}, the last N
 *   (0..100000, default 100) output lines of its processes.
 * - `GET /events`: the bridge's supervision events (`BridgeEvent`) of the
 *   workspaces the principal may reach, as server-sent events (HTML Living
 *   Standard, Server-sent events): `id` is the event's id, `data` the event
 *   as JSON, the type the default (`message`). With `Last-Event-ID` the
 *   buffered events after that id come first (the bridge keeps the last
 *   500; an id beyond the newest, from an earlier bridge, replays them all),
 *   then live ones, each once, in id order. A `: keepalive` comment goes out
 *   every `eventsKeepAliveMs`.
 * - `GET /metrics`: Prometheus text format 0.0.4 of every workspace.
 * - `GET /openapi.json`: the OpenAPI 3.0.3 document of these routes.
 *
 * A route with `:id` answers 400 `INVALID_WORKSPACE_ID`, 403 `FORBIDDEN`
 * (`authorize` said no) or 404 `UNKNOWN_WORKSPACE` before doing anything; a
 * malformed `lines`, `graceMs` or `Last-Event-ID` is 400 `INVALID_REQUEST`
 * with `details.parameter` (or `details.header`).
 *
 * @throws {TypeError} when `bridge` is not a Bridge or an option is unknown or invalid.
 */
export function managementRouter(bridge: Bridge, options?: ManagementOptions): ManagementRouter;

/**
 * The operator dashboard: one page at `/dashboard/` (and `/dashboard/index.html`;
 * `/dashboard` redirects there) with its ES modules and stylesheet, and the
 * browser libraries it imports at `/dashboard/vendor/` (preact with htm,
 * uPlot, eventsource-parser), served from the installed npm packages; no
 * build step, no CDN. The page shows every workspace the principal may
 * reach (state, pid, uptime, restarts, RSS, CPU, in-flight and queued
 * calls) with start / stop / restart buttons, the live `GET /events` feed,
 * the log tail of one workspace (`GET /workspaces/:id/logs`, every 2 s), a
 * tool console over the workspace's MCP endpoint (tools, JSON arguments,
 * progress, result), and with the bridge's `requestLog` the recent calls
 * with filters, their durations over time, failures per minute, and p50,
 * p95 and failure rate per workspace and tool. It calls only the routes of
 * a {@link bridgeRouter} at `options.apiBase`, with the browser's
 * credentials (cookies, HTTP authentication) on the same origin.
 *
 * Every response carries {@link DASHBOARD_CSP}, `X-Content-Type-Options:
 * nosniff` and `Referrer-Policy: no-referrer`, and passes the same guards
 * as the routes: Host and Origin, `authenticate` (401) and, with
 * `authorize`, a principal that may reach no workspace gets 403
 * `FORBIDDEN`. Other paths under `/dashboard/` fall through (the app's 404).
 *
 * @throws {TypeError} when `bridge` is not a Bridge or an option is unknown or invalid.
 * @throws {Error} when a browser library is missing from node_modules.
 */
export function bridgeDashboard(bridge: Bridge, options?: DashboardOptions): Router;

/**
 * The Content-Security-Policy of the dashboard's responses:
 * `default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:;
 * object-src 'none'; base-uri 'none'; frame-ancestors 'none'`.
 */
export const DASHBOARD_CSP: string;

/** The router's own error codes with their HTTP status and JSON-RPC code. */
export const routerErrorCodes: Readonly<Record<RouterErrorCode, { httpStatus: number; rpcCode: number }>>;

export type RouterErrorCode =
  | 'PARSE_ERROR' | 'INVALID_REQUEST' | 'INVALID_WORKSPACE_ID' | 'SESSION_REQUIRED'
  | 'UNSUPPORTED_PROTOCOL_VERSION' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'FORBIDDEN_ORIGIN' | 'FORBIDDEN_HOST'
  | 'SESSION_NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'NOT_ACCEPTABLE' | 'STREAM_CONFLICT'
  | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'TOO_MANY_SESSIONS';

/** An error the router answers itself. */
export class RouterError extends Error {
  constructor(code: RouterErrorCode, message: string, options?: { details?: unknown; cause?: unknown });
  readonly code: RouterErrorCode;
  readonly details: unknown;
}

/**
 * HTTP status for an error: a RouterError's code status, the registry's
 * status for the bridge's own codes, 502 for a server's JSON-RPC error,
 * `err.status` if set, else 500. Pure.
 */
export function statusCode(err: unknown): number;
