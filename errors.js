import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const registry = require('./errors.json');

/**
 * The bridge's own errors by symbolic name, from `errors.json` (shared with
 * the Rust core and the Python tests): `{ code, httpStatus, description }`,
 * where `code` is the JSON-RPC error code (-32000..-32019).
 * @type {Readonly<Record<string, Readonly<{ code: number, httpStatus: number, description: string }>>>}
 */
export const errorCodes = Object.freeze(
  Object.fromEntries(
    registry.errors.map(({ name, code, httpStatus, description }) => [
      name,
      Object.freeze({ code, httpStatus, description }),
    ]),
  ),
);

/**
 * An error from the bridge or from the workspace's server.
 *
 * `code` is the bridge's symbolic name (e.g. `'UNKNOWN_WORKSPACE'`) or, for a
 * JSON-RPC error the server returned, the server's numeric code. `rpcCode`
 * is always the JSON-RPC error code; `data` holds structured details.
 */
export class BridgeError extends Error {
  /**
   * @param {string | number} code
   * @param {string} message
   * @param {{ rpcCode?: number, data?: unknown, cause?: unknown }} [extra]
   */
  constructor(code, message, { rpcCode, data, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.rpcCode = rpcCode ?? (typeof code === 'number' ? code : errorCodes[code]?.code);
    this.data = data;
  }
}

/**
 * Builds a BridgeError of one of the bridge's own codes.
 * @param {keyof typeof errorCodes} name
 * @param {string} message
 * @param {unknown} [data]
 */
export function bridgeError(name, message, data) {
  return new BridgeError(name, message, { data });
}
