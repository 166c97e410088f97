// Express router giving every workspace of a Bridge an MCP streamable HTTP
// endpoint (MCP 2025-06-18, Basic / Transports / Streamable HTTP), JSON
// responses only. Uses nothing of fastmcp-bridge but its public API.
import { randomUUID } from 'node:crypto';

import express from 'express';
import { BridgeError, errorCodes } from 'fastmcp-bridge';

/** MCP revisions the endpoint negotiates, newest first. */
export const SUPPORTED_PROTOCOL_VERSIONS = Object.freeze(['2025-11-25', '2025-06-18', '2025-03-26']);

const OPTION_KEYS = new Set(['maxBodyBytes']);
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INTERNAL_ERROR = -32603;

/**
 * The HTTP status for an error: the registry's `httpStatus` for a
 * BridgeError of the bridge's own codes, 502 for other BridgeErrors (the
 * workspace's server failed), `err.status` when set, else 500. Pure.
 * @param {unknown} err
 * @returns {number}
 */
export function statusCode(err) {
  if (err instanceof BridgeError) {
    return typeof err.code === 'string' ? (errorCodes[err.code]?.httpStatus ?? 500) : 502;
  }
  const status = err?.status ?? err?.statusCode;
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

function rpcError(id, code, message, data) {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id: id ?? null, error };
}

function errorBody(id, err) {
  return rpcError(id, err.rpcCode ?? INTERNAL_ERROR, err.message, err.data);
}

function negotiate(requested) {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : SUPPORTED_PROTOCOL_VERSIONS[0];
}

/**
 * Creates the router. Mount it where the app wants it:
 * `app.use(bridgeRouter(bridge))` serves `POST /workspaces/:id/mcp`.
 *
 * - `initialize` opens an MCP session (answered with the workspace server's
 *   capabilities and a new `Mcp-Session-Id`); later requests must carry that
 *   header (400 without it, 404 for an unknown or ended one).
 * - Requests are forwarded with `bridge.call` and answered as JSON.
 * - Notifications and responses are accepted with 202.
 * - `DELETE` ends a session; `GET` answers 405 (no server-initiated stream yet).
 * - A body that is not JSON answers 400 with JSON-RPC error -32700; an unknown
 *   workspace 404 with error `UNKNOWN_WORKSPACE`.
 *
 * @param {import('fastmcp-bridge').Bridge} bridge
 * @param {{ maxBodyBytes?: number }} [options] `maxBodyBytes`: largest request
 *   body, in bytes. Default 4 MiB.
 * @returns {import('express').Router}
 */
export function bridgeRouter(bridge, options = {}) {
  if (!bridge || typeof bridge.call !== 'function' || typeof bridge.serverInfo !== 'function') {
    throw new TypeError('bridgeRouter(bridge): expected a Bridge (new Bridge({ workspaces }) from fastmcp-bridge)');
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(`bridgeRouter: unknown option ${JSON.stringify(key)} (known: ${[...OPTION_KEYS].join(', ')})`);
    }
  }
  const { maxBodyBytes = 4 * 1024 * 1024 } = options;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new TypeError('bridgeRouter: maxBodyBytes must be a positive integer (bytes)');
  }

  /** MCP session id -> workspace id. */
  const sessions = new Map();
  const router = express.Router();
  const parseJson = express.json({ limit: maxBodyBytes, strict: false });

  function knownWorkspace(req, res, next) {
    if (bridge.workspaceIds.includes(req.params.id)) return next();
    const err = new BridgeError('UNKNOWN_WORKSPACE', `unknown workspace ${JSON.stringify(req.params.id)}`, {
      data: { workspace: req.params.id },
    });
    res.status(statusCode(err)).json(errorBody(null, err));
  }

  /** Checks the MCP session header; answers and returns false when it fails. */
  function checkSession(req, res, id) {
    const sessionId = req.get('mcp-session-id');
    if (!sessionId) {
      res.status(400).json(rpcError(id, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required'));
      return false;
    }
    if (sessions.get(sessionId) !== req.params.id) {
      res.status(404).json(rpcError(id, INVALID_REQUEST, 'Session not found'));
      return false;
    }
    return true;
  }

  async function initialize(req, res, message) {
    const info = await bridge.serverInfo(req.params.id);
    const sessionId = randomUUID();
    sessions.set(sessionId, req.params.id);
    const protocolVersion = negotiate(message.params?.protocolVersion);
    res.set('Mcp-Session-Id', sessionId).json({ jsonrpc: '2.0', id: message.id, result: { ...info, protocolVersion } });
  }

  router.post('/workspaces/:id/mcp', knownWorkspace, (req, res, next) => {
    if (!req.is('application/json')) {
      res.status(415).json(rpcError(null, INVALID_REQUEST, 'Unsupported Media Type: Content-Type must be application/json'));
      return;
    }
    parseJson(req, res, next);
  }, async (req, res) => {
    const message = req.body;
    if (Array.isArray(message)) {
      res.status(400).json(rpcError(null, INVALID_REQUEST, 'JSON-RPC batches are not supported (removed in MCP 2025-06-18)'));
      return;
    }
    if (message === null || typeof message !== 'object' || message.jsonrpc !== '2.0') {
      res.status(400).json(rpcError(null, INVALID_REQUEST, 'Invalid Request: not a JSON-RPC 2.0 message'));
      return;
    }
    const isRequest = typeof message.method === 'string' && message.id !== undefined && message.id !== null;
    try {
      if (isRequest && message.method === 'initialize') {
        await initialize(req, res, message);
        return;
      }
      if (isRequest && message.method === 'server/discover') {
        // The sessionless MCP revision's probe: a quick 4xx makes its clients
        // fall back to initialize.
        res.status(400).json(rpcError(message.id, METHOD_NOT_FOUND, 'server/discover is not supported; use initialize'));
        return;
      }
      if (!checkSession(req, res, message.id)) return;
      if (!isRequest) {
        res.status(202).end();
        return;
      }
      const result = await bridge.call(req.params.id, message.method, message.params);
      res.json({ jsonrpc: '2.0', id: message.id, result });
    } catch (err) {
      if (!(err instanceof BridgeError)) throw err;
      // The request reached the endpoint, which answers with a JSON-RPC error.
      res.json(errorBody(isRequest ? message.id : null, err));
    }
  });

  router.delete('/workspaces/:id/mcp', knownWorkspace, (req, res) => {
    if (!checkSession(req, res, null)) return;
    sessions.delete(req.get('mcp-session-id'));
    res.status(200).end();
  });

  router.get('/workspaces/:id/mcp', knownWorkspace, (_req, res) => {
    res.set('Allow', 'POST, DELETE').status(405).json(rpcError(null, INVALID_REQUEST, 'Method Not Allowed: no server-initiated stream'));
  });

  // Body parser failures as JSON-RPC errors; anything else goes on with its status.
  router.use('/workspaces/:id/mcp', (err, _req, res, next) => {
    if (err?.type === 'entity.parse.failed') {
      res.status(400).json(rpcError(null, PARSE_ERROR, 'Parse error: body is not valid JSON'));
    } else if (err?.type === 'entity.too.large') {
      res.status(413).json(rpcError(null, INVALID_REQUEST, `Request body larger than ${maxBodyBytes} bytes`));
    } else {
      err.status ??= statusCode(err);
      next(err);
    }
  });

  return router;
}
