import type { Router } from 'express';
import type { Bridge } from 'fastmcp-bridge';

/** Options of {@link bridgeRouter}. */
export interface BridgeRouterOptions {
  /** Largest request body, in bytes. Default: 4194304 (4 MiB). */
  maxBodyBytes?: number;
}

/** MCP revisions the endpoint negotiates, newest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[];

/**
 * An Express router that gives every workspace of `bridge` an MCP streamable
 * HTTP endpoint at `POST /workspaces/:id/mcp` (MCP 2025-06-18, Basic /
 * Transports / Streamable HTTP; JSON responses).
 *
 * @throws {TypeError} when `bridge` is not a Bridge or an option is unknown.
 */
export function bridgeRouter(bridge: Bridge, options?: BridgeRouterOptions): Router;

/**
 * HTTP status for an error: the registry's status for the bridge's own
 * codes, 502 for a server's JSON-RPC error, `err.status` if set, else 500.
 */
export function statusCode(err: unknown): number;
