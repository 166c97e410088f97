import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BridgeError, bridgeError, errorCodes } from './errors.js';

export { BridgeError, errorCodes };

const require = createRequire(import.meta.url);
const packageDir = path.dirname(fileURLToPath(import.meta.url));
const WORKSPACE_KEYS = new Set(['dir', 'python', 'env', 'startTimeoutMs']);
const BRIDGE_KEYS = new Set(['workspaces', 'python', 'startTimeoutMs']);

let native;
function loadNative() {
  native ??= require('./native.cjs');
  return native;
}

/**
 * The Python interpreter used when the options name none: `$FASTMCP_BRIDGE_PYTHON`,
 * else the `.venv` that `fastmcp-bridge-setup-python` creates in the package,
 * else `python3` from PATH.
 * @returns {string}
 */
export function defaultPython() {
  if (process.env.FASTMCP_BRIDGE_PYTHON) return process.env.FASTMCP_BRIDGE_PYTHON;
  const venvPython = path.join(packageDir, '.venv', 'bin', 'python');
  return existsSync(venvPython) ? venvPython : 'python3';
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkKeys(object, allowed, where) {
  for (const key of Object.keys(object)) {
    if (!allowed.has(key)) {
      throw bridgeError('INVALID_ARGUMENT', `${where}: unknown option ${JSON.stringify(key)}`);
    }
  }
}

function nativeOptions(options) {
  if (!isPlainObject(options)) throw bridgeError('INVALID_ARGUMENT', 'Bridge options must be an object');
  checkKeys(options, BRIDGE_KEYS, 'Bridge options');
  const workspaces = {};
  for (const [id, spec] of Object.entries(options.workspaces ?? {})) {
    if (!isPlainObject(spec) || typeof spec.dir !== 'string' || spec.dir === '') {
      throw bridgeError('INVALID_ARGUMENT', `workspace ${JSON.stringify(id)}: "dir" must be a non-empty string`);
    }
    checkKeys(spec, WORKSPACE_KEYS, `workspace ${JSON.stringify(id)}`);
    workspaces[id] = { ...spec, dir: path.resolve(spec.dir) };
  }
  return { ...options, workspaces, python: options.python ?? defaultPython() };
}

function unwrap(outcome) {
  if (outcome.error) {
    const { name, code, message, data } = outcome.error;
    const details = data === undefined || data === null ? undefined : JSON.parse(data);
    throw new BridgeError(name ?? code, message, { rpcCode: code, data: details });
  }
  return JSON.parse(outcome.result);
}

/**
 * Runs one Python FastMCP hub process per workspace and calls it over MCP.
 * See index.d.ts for the full contract.
 */
export class Bridge {
  #native;
  #closing;

  /** @param {import('./index.js').BridgeOptions} [options] */
  constructor(options = {}) {
    const config = nativeOptions(options);
    const { NativeBridge } = loadNative();
    try {
      this.#native = new NativeBridge(JSON.stringify(config));
    } catch (err) {
      const message = String(err?.message ?? err).replace(/^INVALID_ARGUMENT: /, '');
      throw new BridgeError('INVALID_ARGUMENT', message, { cause: err });
    }
  }

  /** The configured workspace ids, sorted. */
  get workspaceIds() {
    return this.#native.workspaceIds();
  }

  /**
   * Sends a JSON-RPC request to a workspace's MCP server and resolves with
   * the response's `result`.
   * @param {string} workspaceId
   * @param {string} method
   * @param {Record<string, unknown>} [params]
   * @returns {Promise<any>}
   */
  async call(workspaceId, method, params) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    if (typeof method !== 'string' || method === '') {
      throw bridgeError('INVALID_ARGUMENT', 'method must be a non-empty string');
    }
    if (params !== undefined && !isPlainObject(params)) {
      throw bridgeError('INVALID_ARGUMENT', 'params must be an object when given');
    }
    const paramsJson = params === undefined ? undefined : JSON.stringify(params);
    return unwrap(await this.#native.call(workspaceId, method, paramsJson));
  }

  /**
   * The workspace server's MCP `InitializeResult`, starting its process if
   * needed.
   * @param {string} workspaceId
   */
  async serverInfo(workspaceId) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    return unwrap(await this.#native.serverInfo(workspaceId));
  }

  /** Stops every process this bridge started; later calls reject with `BRIDGE_CLOSED`. Idempotent. */
  close() {
    this.#closing ??= this.#native.close();
    return this.#closing;
  }

  [Symbol.asyncDispose]() {
    return this.close();
  }
}
