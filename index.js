import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BridgeError, bridgeError, errorCodes } from './errors.js';
import { checkClusterOptions, Cluster } from './cluster.js';
import { endCall, inSpan, startCall, tracesCalls } from './tracing.js';

export { BridgeError, errorCodes };

const require = createRequire(import.meta.url);
const packageDir = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_GRACE_MS = 10_000;
/** Call options read by the JS side only; the native side names its own. */
const JS_CALL_KEYS = ['signal', 'onProgress', 'onRequest', 'raw'];
const SESSION_KEYS = new Set(['clientInfo', 'capabilities']);
const MAX_CALL_ID = 0xffffffff;
/**
 * Workspace ids: safe in URLs, paths and metric labels. The one definition:
 * the Express router and its OpenAPI document use it too.
 */
export const WORKSPACE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

let native;
let callKeys;
function loadNative() {
  if (!native) {
    native = require('./native.cjs');
    callKeys = new Set([...JS_CALL_KEYS, ...native.nativeCallOptionKeys()]);
  }
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

/**
 * The `BridgeError` for an argument the native side refused (it throws
 * only for arguments): its own `INVALID_ARGUMENT: …` messages, or napi-rs's
 * for a value of the wrong type, which name the option (e.g.
 * `… on WorkspaceOptions.env`) and carry a napi status as `code`.
 */
function refused(err) {
  if (err instanceof BridgeError || typeof err?.code !== 'string') return err;
  const message = String(err.message).replace(/^INVALID_ARGUMENT: /, '');
  return new BridgeError('INVALID_ARGUMENT', message, { cause: err });
}

function checkWorkspaceId(id) {
  if (!WORKSPACE_ID_PATTERN.test(id)) {
    throw bridgeError('INVALID_ARGUMENT', `workspace ${JSON.stringify(id)}: ids are 1-64 characters of A-Z a-z 0-9 _ - and start with a letter or digit`);
  }
}

/**
 * The options as the native side takes them: the workspace ids checked
 * (their pattern is this package's) and the default interpreter filled in;
 * everything else is checked once, by the native side (see the binding's
 * `options` module, whose structs the typings are generated from).
 */
function nativeOptions(options) {
  if (!isPlainObject(options)) throw bridgeError('INVALID_ARGUMENT', 'Bridge options must be an object');
  if (isPlainObject(options.workspaces)) Object.keys(options.workspaces).forEach(checkWorkspaceId);
  return { ...options, python: options.python ?? defaultPython() };
}

/**
 * Runs a server-request handler and encodes its outcome for the native side:
 * `{"result": ...}`, or `{"error": {code, message, data?}}` where a thrown
 * error's numeric `code` (or `rpcCode`) is kept and anything else is -32603.
 */
async function answer(request, handler, ...args) {
  if (!handler) {
    return JSON.stringify({ error: { code: -32601, message: `Method not found: ${request.method}` } });
  }
  try {
    const result = await handler(...args, request);
    return JSON.stringify({ result: result ?? {} });
  } catch (err) {
    const code = Number.isInteger(err?.code) ? err.code : Number.isInteger(err?.rpcCode) ? err.rpcCode : -32603;
    const error = { code, message: String(err?.message ?? err) };
    if (err?.data !== undefined) error.data = err.data;
    return JSON.stringify({ error });
  }
}

function checkHandler(method, handler) {
  if (typeof method !== 'string' || method === '') throw bridgeError('INVALID_ARGUMENT', 'onRequest: method must be a non-empty string');
  if (typeof handler !== 'function') throw bridgeError('INVALID_ARGUMENT', 'onRequest: handler must be a function');
}

/**
 * Runs one call on the native side: checks arguments, wires the abort
 * signal, progress and request handlers, and unwraps the outcome; traced
 * (tracing.js) when the app's OpenTelemetry SDK records or propagates.
 */
async function runCall(bridge, start, workspaceId, method, params, options) {
  if (typeof method !== 'string' || method === '') {
    throw bridgeError('INVALID_ARGUMENT', 'method must be a non-empty string');
  }
  if (params !== undefined && params !== null && typeof params !== 'object') {
    throw bridgeError('INVALID_ARGUMENT', 'params must be an object or an array when given');
  }
  const native = nativeCallOptions(options);
  const signal = options?.signal;
  if (signal?.aborted) {
    throw new BridgeError('ABORTED', 'request aborted', { cause: signal.reason });
  }
  const traced = startCall(workspaceId, method, params);
  let paramsJson;
  try {
    if (traced !== undefined) params = traced.params;
    paramsJson = params === undefined || params === null ? undefined : JSON.stringify(params);
  } catch (err) {
    if (traced !== undefined) endCall(traced, { method, error: err });
    throw err;
  }
  // A traced call's handlers run in its span's context: their own spans are its children.
  const inCall = traced === undefined ? (fn) => fn : (fn) => inSpan(traced, fn);
  const onProgress = options?.onProgress && progressCallback(inCall(options.onProgress));
  const onRequest = options?.onRequest && inCall(options.onRequest);
  const callId = bridge.nextCallId();
  // Progress and server requests of the call reach the bridge's shared
  // handlers, which look them up by call id (the binding's `batch` module).
  if (onProgress) bridge.progress.set(callId, onProgress);
  if (onRequest) bridge.requests.set(callId, onRequest);
  let onAbort;
  if (signal) {
    onAbort = () => bridge.cancel(callId);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  const timing = traced?.timed ? {} : undefined;
  try {
    const outcome = await bridge.submit(
      callId,
      (id) => start(id, paramsJson, native, signal !== undefined, onProgress !== undefined, onRequest !== undefined, timing !== undefined),
      timing,
    );
    const result = options?.raw ? settledText(outcome) : settledValue(outcome);
    if (traced !== undefined) endCall(traced, { method, result, queueMs: timing?.queueMs });
    return result;
  } catch (err) {
    if (err instanceof BridgeError && err.code === 'ABORTED' && signal?.reason !== undefined) {
      err.cause ??= signal.reason;
    }
    if (traced !== undefined) endCall(traced, { method, error: err, queueMs: timing?.queueMs });
    throw err;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    if (onProgress) bridge.progress.delete(callId);
    if (onRequest) bridge.requests.delete(callId);
  }
}

/**
 * Options of `session.forward` (the native call options and `onRequest`),
 * checked: `{ onRequest, principal, mcpSession, rest }`, `rest` holding
 * any other native option (else undefined).
 */
function forwardOptions(options) {
  if (options === undefined) return {};
  if (!isPlainObject(options)) throw bridgeError('INVALID_ARGUMENT', 'forward options must be an object');
  loadNative();
  const { onRequest, principal, mcpSession } = options;
  let rest;
  for (const key of Object.keys(options)) {
    if (key === 'onRequest' || key === 'principal' || key === 'mcpSession') continue;
    if (key === 'signal' || key === 'onProgress' || key === 'raw') {
      throw bridgeError('INVALID_ARGUMENT', `forward options: ${key} is not one (cancel with the returned cancel(); progress and parsed results need call())`);
    }
    if (!callKeys.has(key)) throw bridgeError('INVALID_ARGUMENT', `forward options: unknown option ${JSON.stringify(key)}`);
    rest = options;
  }
  if (onRequest !== undefined && typeof onRequest !== 'function') {
    throw bridgeError('INVALID_ARGUMENT', 'forward options: onRequest must be a function');
  }
  for (const [name, value] of [['principal', principal], ['mcpSession', mcpSession]]) {
    if (value !== undefined && typeof value !== 'string') throw bridgeError('INVALID_ARGUMENT', `forward options: ${name} must be a string`);
  }
  return { onRequest, principal, mcpSession, rest };
}

/**
 * Relays one request of an MCP client as it came (`Session.forward`):
 * `null` when the native side leaves it to the caller.
 */
function forwardRequest(calls, native, message, options) {
  if (!(message instanceof Uint8Array)) throw bridgeError('INVALID_ARGUMENT', 'forward: message must be a Uint8Array (e.g. a Buffer)');
  const { onRequest, principal, mcpSession, rest } = forwardOptions(options);
  // A traced call gets its trace context injected into params, which
  // only call() does (it parses them).
  if (tracesCalls()) return null;
  const callId = calls.nextCallId();
  let forwarded;
  try {
    forwarded = native.forward(callId, message, principal, mcpSession, rest, onRequest !== undefined);
  } catch (err) {
    throw refused(err);
  }
  if (forwarded === null) return null;
  if (onRequest) calls.requests.set(callId, onRequest);
  let settled = false;
  const response = calls.started(callId).then((outcome) => {
    settled = true;
    if (onRequest) calls.requests.delete(callId);
    return settledText(outcome);
  });
  return {
    id: forwarded[0],
    method: forwarded[1],
    response,
    cancel() {
      if (!settled) calls.cancel(callId);
    },
  };
}

/**
 * Waits for a cluster node to have joined, at most the call's `timeoutMs`
 * (default 30000) and until its `signal` aborts.
 */
async function clusterReady(ready, options) {
  const ms = Number.isFinite(options?.timeoutMs) ? options.timeoutMs : 30_000;
  const signal = options?.signal;
  let timer;
  let onAbort;
  try {
    await Promise.race([
      ready.catch((err) => {
        throw new BridgeError('START_FAILED', `cluster: this node could not join: ${err?.message ?? err}`, { cause: err });
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new BridgeError('TIMEOUT', `cluster: this node has not joined within ${ms} ms (etcd unreachable?)`)), ms);
      }),
      new Promise((_, reject) => {
        if (!signal) return;
        onAbort = () => reject(new BridgeError('ABORTED', 'request aborted', { cause: signal.reason }));
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** Wraps a user's onProgress so that a throwing handler cannot break the call. */
function progressCallback(onProgress) {
  return (update) => {
    const progress = { progress: update.progress };
    if (update.total !== null && update.total !== undefined) progress.total = update.total;
    if (update.message !== null && update.message !== undefined) progress.message = update.message;
    try {
      onProgress(progress);
    } catch (err) {
      process.emitWarning(`onProgress handler threw: ${err?.stack ?? err}`, 'FastMcpBridgeWarning');
    }
  };
}

/** The `BridgeError` for a native failure (`NativeError`). */
function failure({ name, code, message, data }) {
  const details = data === undefined || data === null ? undefined : JSON.parse(data);
  return new BridgeError(name ?? code, message, { rpcCode: code, data: details });
}

/** The value of a native `Outcome`; throws its failure. */
function unwrap(outcome) {
  if (outcome.error) throw failure(outcome.error);
  return JSON.parse(outcome.result);
}

/** The result's JSON text of a settled call (the server's), or its `NativeError` thrown as a `BridgeError`. */
function settledText(outcome) {
  if (typeof outcome === 'string') return outcome;
  throw failure(outcome);
}

/** The result of a settled call, parsed. */
function settledValue(outcome) {
  return JSON.parse(settledText(outcome));
}

/**
 * Checks the call options JS reads and refuses unknown ones; the native
 * side reads and checks the rest (priority, timeouts) from the same object.
 */
function nativeCallOptions(options) {
  if (options === undefined) return undefined;
  if (!isPlainObject(options)) throw bridgeError('INVALID_ARGUMENT', 'call options must be an object');
  loadNative();
  checkKeys(options, callKeys, 'call options');
  const { signal, onProgress, onRequest, raw } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw bridgeError('INVALID_ARGUMENT', 'call options: signal must be an AbortSignal');
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw bridgeError('INVALID_ARGUMENT', 'call options: onProgress must be a function');
  }
  if (onRequest !== undefined && typeof onRequest !== 'function') {
    throw bridgeError('INVALID_ARGUMENT', 'call options: onRequest must be a function');
  }
  if (raw !== undefined && typeof raw !== 'boolean') {
    throw bridgeError('INVALID_ARGUMENT', 'call options: raw must be a boolean');
  }
  return options;
}

const FILTER_KEYS = ['workspace', 'method', 'name', 'outcome', 'since', 'until', 'limit', 'cursor'];

/** A request log filter as the native side reads it: times as ms since the epoch. */
function requestFilterJson(filter) {
  if (!isPlainObject(filter)) throw bridgeError('INVALID_ARGUMENT', 'request log filter must be an object');
  checkKeys(filter, new Set(FILTER_KEYS), 'request log filter');
  const out = {};
  for (const key of FILTER_KEYS) {
    let value = filter[key];
    if (value === undefined || value === null) continue;
    if (value instanceof Date) value = value.getTime();
    out[key] = value;
  }
  return JSON.stringify(out);
}

/**
 * Runs one Python FastMCP hub process per workspace and calls it over MCP.
 * Emits `'notification'` with `(workspaceId, message)` for every server
 * notification not tied to a call. See index.d.ts for the full contract.
 */
export class Bridge extends EventEmitter {
  #native;
  #closing;
  /** With the `cluster` option: this node's part of it. */
  #cluster;
  #clusterReady = false;
  #nextCallId = 1;
  #requestHandlers = new Map();
  /** Promises of calls the native side has not settled yet, by call id. */
  #pending = new Map();
  /**
   * Keeps Node's event loop alive while calls are pending (the native
   * settle callback does not): referenced only while `#pending` is not empty.
   */
  #keepAlive = setInterval(() => {}, 0x7fffffff).unref();
  /** Whether a flush is arranged and not yet made. */
  #flushDue = false;
  /** Hands the calls made since the last flush to the native runtime. */
  #flush = () => {
    this.#flushDue = false;
    this.#native.flush();
  };

  /** Arranges a flush after the current phase of the event loop, unless one is due. */
  #scheduleFlush() {
    if (this.#flushDue) return;
    this.#flushDue = true;
    setImmediate(this.#flush);
  }

  /** @param {import('./index.js').BridgeOptions} [options] */
  constructor(options = {}) {
    super();
    let clusterOptions;
    let clusterWorkspaces;
    if (isPlainObject(options) && options.cluster !== undefined) {
      // The workspaces are the cluster's: placed on this bridge once the members are known.
      clusterOptions = checkClusterOptions(options.cluster);
      const { cluster: _cluster, workspaces = {}, ...rest } = options;
      if (!isPlainObject(workspaces)) throw bridgeError('INVALID_ARGUMENT', 'Bridge options: workspaces must be an object');
      Object.keys(workspaces).forEach(checkWorkspaceId);
      clusterWorkspaces = workspaces;
      options = { ...rest, workspaces: {} };
    }
    const config = nativeOptions(options);
    const { NativeBridge } = loadNative();
    const onNotification = (workspaceId, json) => {
      this.emit('notification', workspaceId, JSON.parse(json));
    };
    const onRequest = (workspaceId, json) => {
      const request = JSON.parse(json);
      return answer(request, this.#requestHandlers.get(request.method), workspaceId);
    };
    const onEvent = (json) => {
      this.emit('event', JSON.parse(json));
    };
    // The native side rings when settled calls wait (see the binding's
    // crate docs, "calls cross in batches"); this takes them all.
    const onSettle = () => {
      const { ids, outcomes, queueMs } = this.#native.takeSettled();
      for (let i = 0; i < ids.length; i++) {
        const resolve = this.#pending.get(ids[i]);
        if (!resolve) continue;
        this.#pending.delete(ids[i]);
        resolve(outcomes[i], queueMs?.[i]);
      }
      if (this.#pending.size === 0) this.#keepAlive.unref();
    };
    // A call's progress and server requests, by call id (see `#calls`).
    const onCallProgress = (callId, update) => this.#calls.progress.get(callId)?.(update);
    const onCallRequest = (callId, json) => {
      // undefined for a call that has settled meanwhile: -32601, as its
      // server no longer waits for the answer.
      return answer(JSON.parse(json), this.#calls.requests.get(callId));
    };
    try {
      this.#native = new NativeBridge(config, onSettle, onNotification, onRequest, onEvent, onCallProgress, onCallRequest);
    } catch (err) {
      throw refused(err);
    }
    if (clusterOptions !== undefined) {
      // Every node checks every workspace now, as its owner would on placing it.
      try {
        for (const [id, spec] of Object.entries(clusterWorkspaces)) {
          let outcome;
          try {
            outcome = this.#native.checkWorkspace(id, spec);
          } catch (err) {
            throw refused(err);
          }
          unwrap(outcome);
        }
      } catch (err) {
        this.#native.close().catch(() => {});
        throw err;
      }
      this.#cluster = new Cluster(this, clusterOptions, clusterWorkspaces);
      this.#cluster.ready.then(() => (this.#clusterReady = true), () => {});
    }
  }

  /**
   * With the `cluster` option, this node's part of the cluster: `ready`
   * (resolves once the workspaces are placed), `nodeId`, `members()`,
   * `owner(workspaceId)`, `authenticate(req)`; else null.
   * @returns {Cluster | null}
   */
  get cluster() {
    return this.#cluster ?? null;
  }

  /** The configured workspace ids, sorted. */
  get workspaceIds() {
    return this.#native.workspaceIds();
  }

  /**
   * Whether `workspaceId` is configured (added and not removed): one lookup,
   * where `workspaceIds` copies every id.
   * @param {string} workspaceId
   * @returns {boolean}
   */
  hasWorkspace(workspaceId) {
    return typeof workspaceId === 'string' && this.#native.hasWorkspace(workspaceId);
  }

  /**
   * Sends a JSON-RPC request to a workspace's MCP server and resolves with
   * the response's `result`.
   * @param {string} workspaceId
   * @param {string} method
   * @param {Record<string, unknown> | unknown[]} [params]
   * @param {import('./index.js').CallOptions} [options]
   * @returns {Promise<any>}
   */
  async call(workspaceId, method, params, options) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    // A cluster node places its workspaces once it has joined: the call
    // waits for that within its timeout and signal.
    if (this.#cluster !== undefined && !this.#clusterReady) await clusterReady(this.#cluster.ready, options);
    return runCall(
      this.#calls,
      (callId, paramsJson, native, cancellable, progress, requests, timed) =>
        this.#native.call(callId, workspaceId, method, paramsJson, native, cancellable, progress, requests, timed),
      workspaceId,
      method,
      params,
      options,
    );
  }

  /**
   * Call ids, cancellation and settlement, shared with sessions: `submit`
   * registers the call's promise under its id, then starts it (the first
   * call since the last flush schedules one); the native side rings the
   * constructor's `onSettle` when settled calls wait to be taken. A timed
   * call's queue wait (ms) lands in `timing.queueMs` as it settles.
   */
  #calls = {
    nextCallId: () => {
      const callId = this.#nextCallId;
      this.#nextCallId = callId === MAX_CALL_ID ? 1 : callId + 1;
      return callId;
    },
    cancel: (callId) => this.#native.cancel(callId),
    /**
     * Makes a due flush now: a stop, restart or removal acts on the calls
     * made before it, as if they had been handed over at once. (A close
     * does not: the calls it finds unflushed reject with `CLOSED`.)
     */
    flushNow: () => {
      if (this.#flushDue) this.#flush();
    },
    /** Progress handlers of calls in flight, by call id. */
    progress: new Map(),
    /** Server-request handlers of calls in flight, by call id. */
    requests: new Map(),
    submit: (callId, start, timing) =>
      new Promise((resolve, reject) => {
        if (this.#pending.size === 0) this.#keepAlive.ref();
        this.#pending.set(
          callId,
          timing === undefined
            ? resolve
            : (outcome, queueMs) => {
                timing.queueMs = queueMs;
                resolve(outcome);
              },
        );
        try {
          // The first call since the last flush owes one: made after the
          // current phase of the event loop, so that every call of its I/O
          // callbacks shares it (the binding's `batch` module).
          if (start(callId)) this.#scheduleFlush();
        } catch (err) {
          this.#pending.delete(callId);
          if (this.#pending.size === 0) this.#keepAlive.unref();
          reject(refused(err));
        }
      }),
    /**
     * The outcome of a call the native side has just admitted without
     * saying whether it owes a flush (`forward`): one is arranged unless
     * one is already due.
     */
    started: (callId) =>
      new Promise((resolve) => {
        if (this.#pending.size === 0) this.#keepAlive.ref();
        this.#pending.set(callId, resolve);
        this.#scheduleFlush();
      }),
  };

  /**
   * Answers server requests of `method` (e.g. `'sampling/createMessage'`,
   * `'elicitation/create'`, `'roots/list'`) that no call or session handler
   * takes: `handler(workspaceId, request)` returns the result (or a
   * promise); a thrown error with a numeric `code` becomes that JSON-RPC
   * error, anything else -32603. Without a handler the server gets -32601.
   * @returns {this}
   */
  onRequest(method, handler) {
    checkHandler(method, handler);
    this.#requestHandlers.set(method, handler);
    return this;
  }

  /**
   * Opens a further MCP session on a workspace's process, with its own
   * `clientInfo`, `capabilities` and request handlers.
   * @param {string} workspaceId
   * @param {{ clientInfo?: object, capabilities?: object, onRequest?: Function }} [options]
   * @returns {Session}
   */
  session(workspaceId, options = {}) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    if (!isPlainObject(options)) throw bridgeError('INVALID_ARGUMENT', 'session options must be an object');
    checkKeys(options, SESSION_KEYS, 'session options');
    const { clientInfo, capabilities } = options;
    for (const [name, value] of [['clientInfo', clientInfo], ['capabilities', capabilities]]) {
      if (value !== undefined && !isPlainObject(value)) throw bridgeError('INVALID_ARGUMENT', `session options: ${name} must be an object`);
    }
    const handlers = new Map();
    const onRequest = (json) => {
      const request = JSON.parse(json);
      const own = handlers.get(request.method);
      if (own) return answer(request, own);
      return answer(request, this.#requestHandlers.get(request.method), workspaceId);
    };
    const open = (onNotification) => {
      const opened = this.#native.session(
        workspaceId,
        clientInfo && JSON.stringify(clientInfo),
        capabilities && JSON.stringify(capabilities),
        onRequest,
        onNotification,
      );
      if (!(opened instanceof loadNative().NativeSession)) throw failure(opened);
      return opened;
    };
    return new Session(this.#calls, handlers, open, workspaceId);
  }

  /**
   * Counters, gauges and latency percentiles (ms) of one workspace's calls,
   * or of every workspace by id.
   * @param {string} [workspaceId]
   */
  metrics(workspaceId) {
    if (workspaceId === undefined) {
      return Object.fromEntries(this.workspaceIds.map((id) => [id, unwrap(this.#native.metrics(id))]));
    }
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    return unwrap(this.#native.metrics(workspaceId));
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

  /**
   * A page of the request log (option `requestLog`), newest first:
   * `{ entries, cursor }`; pass `cursor` back for the next (older) page,
   * `null` on the last. Each entry: `{ id, at, workspace, session, method,
   * name, durationMs, queueMs, outcome, errorCode, requestBytes,
   * responseBytes, principal, requestBody, responseBody }` (`at` in ms
   * since the epoch). Reads run off the event loop.
   * @param {import('./index.js').RequestFilter} [filter]
   * @throws {BridgeError} `INVALID_ARGUMENT` without a request log or for a bad filter
   */
  async requests(filter = {}) {
    return unwrap(await this.#native.requests(requestFilterJson(filter)));
  }

  /**
   * The request log's figures per workspace and tool (or method, for
   * calls without a name) over the entries matching `filter` (its `limit`
   * and `cursor` aside; the newest 200,000 at most): `[{ workspace,
   * method, name, count, errors, errorRate, p50Ms, p95Ms }]`.
   * @param {import('./index.js').RequestFilter} [filter]
   */
  async requestStats(filter = {}) {
    return unwrap(await this.#native.requestStats(requestFilterJson(filter)));
  }

  /** Entries the request log dropped because its writer was behind; `null` without a request log. */
  get requestLogDropped() {
    return this.#native.requestLogDropped();
  }

  /**
   * Supervision state of one workspace: `{ id, state, pid?, startedAt?,
   * restarts, lastExit?, lastError? }`.
   * @param {string} workspaceId
   */
  status(workspaceId) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    return unwrap(this.#native.status(workspaceId));
  }

  /** Supervision state of every workspace, sorted by id. */
  workspaces() {
    return JSON.parse(this.#native.statuses());
  }

  /**
   * The last output lines of a workspace's processes, oldest first:
   * `[{ at, stream, line }]` (`at` in ms since the epoch).
   * @param {string} workspaceId
   * @param {{ lines?: number }} [options] `lines`: default 100.
   */
  logs(workspaceId, { lines = 100 } = {}) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    if (!Number.isSafeInteger(lines) || lines < 0) throw bridgeError('INVALID_ARGUMENT', 'logs: lines must be an integer >= 0');
    return unwrap(this.#native.logs(workspaceId, Math.min(lines, 0xffffffff)));
  }

  /**
   * Calls `listener(line)` with each line (`{ at, stream, line }`) a
   * workspace's processes write from now on, across restarts, until the
   * returned function is called (idempotent) or the bridge closes; first,
   * before returning, with the last `lines` (default 0) lines before them
   * (each line comes once: in that tail or live). A listener that throws
   * gets a warning, not the bridge's error.
   * @param {string} workspaceId
   * @param {(line: import('./index.js').LogLine) => void} listener
   * @param {{ lines?: number }} [options]
   * @returns {() => void} ends the watch
   */
  watchLogs(workspaceId, listener, { lines = 0 } = {}) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    if (typeof listener !== 'function') throw bridgeError('INVALID_ARGUMENT', 'watchLogs: listener must be a function');
    if (!Number.isSafeInteger(lines) || lines < 0) throw bridgeError('INVALID_ARGUMENT', 'watchLogs: lines must be an integer >= 0');
    const deliver = (line) => {
      try {
        listener(line);
      } catch (err) {
        process.emitWarning(`watchLogs listener threw: ${err?.stack ?? err}`, 'FastMcpBridgeWarning');
      }
    };
    const watch = this.#native.watchLogs(workspaceId, Math.min(lines, 0xffffffff), (json) => deliver(JSON.parse(json)));
    if (!(watch instanceof loadNative().NativeLogWatch)) throw failure(watch);
    // The tail first, now: live lines reach JS only from a later turn of the event loop.
    for (const line of JSON.parse(watch.tail)) deliver(line);
    return () => watch.close();
  }

  /**
   * The last supervision events (at most 500), of one workspace or all,
   * oldest first.
   * @param {string} [workspaceId]
   */
  events(workspaceId) {
    return JSON.parse(this.#native.events(workspaceId));
  }

  /**
   * Adds a workspace at run time (same shape as an entry of the
   * `workspaces` option); it starts on its first call.
   * @throws {BridgeError} `INVALID_ARGUMENT` (malformed, or the id is taken), `CLOSED`.
   */
  addWorkspace(workspaceId, spec) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    checkWorkspaceId(workspaceId);
    if (!isPlainObject(spec)) throw bridgeError('INVALID_ARGUMENT', `workspace ${JSON.stringify(workspaceId)}: options must be an object`);
    let outcome;
    try {
      outcome = this.#native.addWorkspace(workspaceId, spec);
    } catch (err) {
      throw refused(err);
    }
    unwrap(outcome);
  }

  /**
   * Removes a workspace, stopping its process as `stop()` does.
   * @param {string} workspaceId
   * @param {{ graceMs?: number }} [options]
   */
  async removeWorkspace(workspaceId, { graceMs = DEFAULT_GRACE_MS } = {}) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    this.#calls.flushNow();
    unwrap(await this.#native.removeWorkspace(workspaceId, graceMs));
    // Its MCP sessions are gone with it: the Express endpoint ends its clients' (404 from then on).
    this.emit('removed', workspaceId);
  }

  /** Starts a workspace's process now (it would start on its first call). */
  async start(workspaceId) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    unwrap(await this.#native.start(workspaceId));
  }

  /**
   * Stops a workspace's process: calls in flight may finish within
   * `graceMs`, the rest reject with `WORKSPACE_STOPPED`; SIGTERM to the
   * process group, SIGKILL after `graceMs` (default 10000). A later call
   * starts it again.
   */
  async stop(workspaceId, { graceMs = DEFAULT_GRACE_MS } = {}) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    if (!Number.isFinite(graceMs) || graceMs < 0) throw bridgeError('INVALID_ARGUMENT', 'stop: graceMs must be a number >= 0');
    this.#calls.flushNow();
    unwrap(await this.#native.stop(workspaceId, graceMs));
  }

  /** Stops and starts a workspace's process; also brings a `failed` workspace back. */
  async restart(workspaceId, { graceMs = DEFAULT_GRACE_MS } = {}) {
    if (typeof workspaceId !== 'string') throw bridgeError('INVALID_ARGUMENT', 'workspaceId must be a string');
    if (!Number.isFinite(graceMs) || graceMs < 0) throw bridgeError('INVALID_ARGUMENT', 'restart: graceMs must be a number >= 0');
    this.#calls.flushNow();
    unwrap(await this.#native.restart(workspaceId, graceMs));
  }

  /**
   * Stops every process this bridge started (a cluster node leaves the
   * cluster first); pending and later calls reject with `CLOSED`.
   * Idempotent.
   */
  close() {
    this.#closing ??= (async () => {
      try {
        await this.#cluster?.close();
      } finally {
        await this.#native.close();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose]() {
    return this.close();
  }
}

/**
 * A further MCP session on a workspace's process (see `Bridge.session`).
 * Its calls share the workspace's queue; it re-initializes by itself after
 * the process restarts. Emits `'notification'` with `(message)` for the
 * server notifications of this MCP session that are not progress of a call.
 */
export class Session extends EventEmitter {
  #native;
  #calls;
  #handlers;
  #closing;
  #workspaceId;

  /** @internal Use `bridge.session()`. */
  constructor(calls, handlers, open, workspaceId) {
    super();
    this.#calls = calls;
    this.#workspaceId = workspaceId;
    this.#handlers = handlers;
    this.#native = open((_workspaceId, json) => this.emit('notification', JSON.parse(json)));
  }

  /** As `bridge.call`, on this session. Rejects with `CLOSED` after `close()`. */
  call(method, params, options) {
    return runCall(
      this.#calls,
      (callId, paramsJson, native, cancellable, progress, requests, timed) =>
        this.#native.call(callId, method, paramsJson, native, cancellable, progress, requests, timed),
      this.#workspaceId,
      method,
      params,
      options,
    );
  }

  /**
   * Relays one JSON-RPC request of an MCP client as it came: `message` is
   * its UTF-8 JSON (e.g. a streamable HTTP POST's body, unparsed), checked
   * and sent upstream by the native core with its params untouched, on
   * this session's queue like `call`. Returns `null`, having done
   * nothing, for a message it does not relay that way (see
   * `ForwardedRequest` in index.d.ts: not one JSON-RPC request, an
   * `initialize`, `ping` or `server/discover`, a progress token, an id it
   * cannot key, or a traced call); parse it and use `call` then.
   * Otherwise `{ id, method, response, cancel }`: `response` resolves with
   * the JSON-RPC response's text, the client's id in it, and rejects with
   * a `BridgeError` as `call` does (the bridge's own failures, and the
   * server's JSON-RPC error with its code in `rpcCode`); `cancel()` aborts
   * the request as an `AbortSignal` would.
   * @param {Uint8Array} message
   * @param {import('./index.js').ForwardOptions} [options]
   * @returns {import('./index.js').ForwardedRequest | null}
   */
  forward(message, options) {
    return forwardRequest(this.#calls, this.#native, message, options);
  }

  /** This session's server `InitializeResult`. */
  async serverInfo() {
    return unwrap(await this.#native.serverInfo());
  }

  /**
   * Answers this session's server requests of `method`; falls back to the
   * bridge's `onRequest` handlers.
   * @returns {this}
   */
  onRequest(method, handler) {
    checkHandler(method, handler);
    this.#handlers.set(method, handler);
    return this;
  }

  /** Ends the MCP session; idempotent. */
  close() {
    this.#closing ??= this.#native.close();
    return this.#closing;
  }

  [Symbol.asyncDispose]() {
    return this.close();
  }
}
