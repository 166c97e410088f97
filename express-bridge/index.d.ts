import type { Request, Router } from 'express';
import type { Bridge } from 'fastmcp-bridge';

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
   * Authenticates every request of every route (MCP and REST). Returns the
   * principal (any value but `null`, `undefined` or `false`; stored in
   * `req.auth`), or nothing for 401 `UNAUTHORIZED` with
   * `WWW-Authenticate: Bearer`. A thrown error with `status` 401 or 403 gives
   * that status; any other goes to `next(err)`. Default: none (open).
   */
  authenticate?: (req: Request) => unknown | Promise<unknown>;
  /**
   * Whether `principal` may reach `workspaceId`; false gives 403 `FORBIDDEN`.
   * Also filters `GET /workspaces`. Default: every workspace.
   */
  authorize?: (principal: unknown, workspaceId: string, req: Request) => boolean | Promise<boolean>;
}

/** Options of {@link bridgeRouter}. */
export interface BridgeRouterOptions extends SecurityOptions {
  /** Largest request body, in bytes; beyond it 413. Default: 4194304 (4 MiB). */
  maxBodyBytes?: number;
  /** Open MCP sessions at most; `initialize` beyond it gets 503 `TOO_MANY_SESSIONS`. Default: 1000. */
  maxSessions?: number;
  /**
   * An MCP session with no request in flight, no GET stream and no request
   * for this long is ended (its id then gets 404), in ms. Default: 1800000 (30 min).
   */
  sessionIdleMs?: number;
  /** `false` leaves the management routes out (see {@link managementRouter}). Default: `true`. */
  management?: boolean;
}

/** The router of {@link bridgeRouter}. */
export interface BridgeRouter extends Router {
  /** Ends every MCP session of this router and their upstream sessions. */
  close(): Promise<void>;
}

/** MCP revisions the endpoint negotiates, newest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[];

/** Workspace ids the routes accept: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`; others get 400. */
export const WORKSPACE_ID_PATTERN: RegExp;

/**
 * An Express router with, for every workspace of `bridge`, an MCP streamable
 * HTTP endpoint at `/workspaces/:id/mcp` (POST, GET, DELETE; MCP 2025-06-18
 * and 2025-11-25, Basic / Transports / Streamable HTTP), and unless
 * `management: false` the routes of {@link managementRouter}. The sessionless
 * 2026-07-28 revision is not spoken: `server/discover` gets 400 with JSON-RPC
 * -32601 and other requests carrying `MCP-Protocol-Version: 2026-07-28` get
 * 400 `UNSUPPORTED_PROTOCOL_VERSION` (-32600), so that dual-era clients fall
 * back to `initialize` (MCP 2026-07-28, Basic / Transports / Streamable HTTP /
 * Backward Compatibility).
 *
 * @throws {TypeError} when `bridge` is not a Bridge or an option is unknown or invalid.
 */
export function bridgeRouter(bridge: Bridge, options?: BridgeRouterOptions): BridgeRouter;

/**
 * The management routes alone: `GET /health`, `/workspaces`,
 * `/workspaces/:id`, `/metrics` (Prometheus text format 0.0.4) and
 * `/openapi.json` (OpenAPI 3.0.3).
 *
 * @throws {TypeError} when `bridge` is not a Bridge or an option is unknown or invalid.
 */
export function managementRouter(bridge: Bridge, options?: SecurityOptions): Router;

/** The router's own error codes with their HTTP status and JSON-RPC code. */
export const routerErrorCodes: Readonly<Record<RouterErrorCode, { httpStatus: number; rpcCode: number }>>;

export type RouterErrorCode =
  | 'PARSE_ERROR' | 'INVALID_REQUEST' | 'INVALID_WORKSPACE_ID' | 'SESSION_REQUIRED'
  | 'UNSUPPORTED_PROTOCOL_VERSION' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'FORBIDDEN_ORIGIN'
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
