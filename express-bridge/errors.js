// The router's own errors and the one mapping from any error to an HTTP
// status, shared by the MCP endpoint and the REST routes.
import { BridgeError, errorCodes } from 'fastmcp-bridge';

/**
 * The router's error codes: HTTP status and the JSON-RPC code the MCP
 * endpoint answers with (standard codes only; the bridge's own range
 * -32000..-32019 belongs to errors.json).
 */
export const routerErrorCodes = Object.freeze({
  PARSE_ERROR: { httpStatus: 400, rpcCode: -32700 },
  INVALID_REQUEST: { httpStatus: 400, rpcCode: -32600 },
  INVALID_WORKSPACE_ID: { httpStatus: 400, rpcCode: -32600 },
  SESSION_REQUIRED: { httpStatus: 400, rpcCode: -32600 },
  UNSUPPORTED_PROTOCOL_VERSION: { httpStatus: 400, rpcCode: -32600 },
  UNAUTHORIZED: { httpStatus: 401, rpcCode: -32600 },
  FORBIDDEN: { httpStatus: 403, rpcCode: -32600 },
  FORBIDDEN_ORIGIN: { httpStatus: 403, rpcCode: -32600 },
  FORBIDDEN_HOST: { httpStatus: 403, rpcCode: -32600 },
  SESSION_NOT_FOUND: { httpStatus: 404, rpcCode: -32600 },
  METHOD_NOT_ALLOWED: { httpStatus: 405, rpcCode: -32600 },
  NOT_ACCEPTABLE: { httpStatus: 406, rpcCode: -32600 },
  STREAM_CONFLICT: { httpStatus: 409, rpcCode: -32600 },
  PAYLOAD_TOO_LARGE: { httpStatus: 413, rpcCode: -32600 },
  UNSUPPORTED_MEDIA_TYPE: { httpStatus: 415, rpcCode: -32600 },
  RATE_LIMITED: { httpStatus: 429, rpcCode: -32600 },
  TOO_MANY_SESSIONS: { httpStatus: 503, rpcCode: -32600 },
});

/** An error the router answers itself; `code` is a key of `routerErrorCodes`. */
export class RouterError extends Error {
  /**
   * @param {keyof typeof routerErrorCodes} code
   * @param {string} message
   * @param {{ details?: unknown, cause?: unknown }} [options]
   */
  constructor(code, message, { details, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/**
 * The HTTP status for an error. Pure.
 * - RouterError: its code's status (400, 401, 403, 404, 405, 406, 409, 413, 415, 503);
 * - BridgeError of the bridge's own codes: the registry's `httpStatus`
 *   (e.g. UNKNOWN_WORKSPACE 404, QUEUE_FULL 429, TIMEOUT 504);
 * - other BridgeErrors (the workspace's server answered a JSON-RPC error): 502;
 * - body-parser errors and anything with an integer `status`/`statusCode` in 400..599: that;
 * - else 500.
 * @param {unknown} err
 * @returns {number}
 */
export function statusCode(err) {
  if (err instanceof RouterError) return routerErrorCodes[err.code]?.httpStatus ?? 500;
  if (err instanceof BridgeError) {
    return typeof err.code === 'string' ? (errorCodes[err.code]?.httpStatus ?? 500) : 502;
  }
  const status = err?.status ?? err?.statusCode;
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

/** Turns body-parser failures into RouterErrors; returns other errors as they are. */
export function fromBodyParser(err, maxBodyBytes) {
  switch (err?.type) {
    case 'entity.parse.failed':
      return new RouterError('PARSE_ERROR', 'Parse error: body is not valid JSON', { cause: err });
    case 'entity.too.large':
      return new RouterError('PAYLOAD_TOO_LARGE', `request body larger than ${maxBodyBytes} bytes`, {
        details: { limitBytes: maxBodyBytes },
        cause: err,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new RouterError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset', { cause: err });
    default:
      return err;
  }
}

/** Whether the router answers this error itself (else it goes to next(err)). */
export function isAnswerable(err) {
  return err instanceof RouterError || err instanceof BridgeError;
}

/** A JSON-RPC error response object. */
export function rpcError(id, code, message, data) {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id: id ?? null, error };
}

/**
 * The JSON-RPC error object for an answerable error. Router errors carry
 * their symbolic code in `data.code`; bridge errors keep their `rpcCode`
 * and `data`.
 */
export function rpcErrorFor(id, err) {
  if (err instanceof RouterError) {
    const data = err.details === undefined ? { code: err.code } : { code: err.code, ...err.details };
    return rpcError(id, routerErrorCodes[err.code].rpcCode, err.message, data);
  }
  return rpcError(id, err.rpcCode ?? -32603, err.message, err.data);
}

/** The REST error body: `{ error: { code, message, details } }`. */
export function restErrorFor(err) {
  const code = err instanceof RouterError || err instanceof BridgeError ? String(err.code) : 'INTERNAL_ERROR';
  const details = err instanceof RouterError ? err.details : err?.data;
  return { error: { code, message: err.message, details: details ?? null } };
}
