// The sessionless 2026-07-28 revision at a workspace's MCP endpoint (MCP
// 2026-07-28, Basic / Transports / Streamable HTTP; Basic / Lifecycle;
// Basic / Multi round-trip requests). Every POST is one self-contained
// JSON-RPC request that names the revision, the client's `clientInfo` and
// its capabilities in `params._meta`, and its method (and tool, prompt or
// resource) in the `Mcp-Method` / `Mcp-Name` headers.
//
// - `server/discover` is answered from the workspace's own server info.
// - Other requests go to the workspace on an upstream MCP session
//   (`bridge.session`) kept per client identity: the principal, the
//   `clientInfo` and the capabilities. A client sends the same identity with
//   every request, so it opens one upstream session, not one per request,
//   and the workspace sees that client's identity and capabilities.
// - A server request of the workspace during a call (sampling, elicitation,
//   roots) becomes an `InputRequiredResult` to the client, whose
//   `requestState` names the call held here; the client's retry with
//   `inputResponses` answers the server request, and the retry's response
//   is the call's result (or the next `InputRequiredResult`).
// - A client cancels by closing the response stream.
// - `subscriptions/listen` keeps an SSE stream open with the change
//   notifications the client opted in to and the workspace offers, taken
//   from the upstream session (its resource subscriptions included).
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

import { BridgeError } from 'fastmcp-bridge';

import { RouterError, rpcError, rpcErrorFor, statusCode } from './errors.js';
import { principalKey, principalOption } from './limits.js';
import { decodeHeaderValue, paramHeaderMismatch, ToolMarks } from './param-headers.js';
import { SseStream } from './sse.js';

const protocol = createRequire(import.meta.url)('../protocol.json');

/** The sessionless revision the endpoint speaks. */
export const SESSIONLESS_PROTOCOL_VERSION = protocol.sessionless;

/** The handshake revisions; a request naming another revision is sessionless. */
const HANDSHAKE_VERSIONS = Object.freeze([...protocol.handshake]);

/** The `_meta` keys of the revision (MCP 2026-07-28, Basic / `_meta`). */
const META = Object.freeze({
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  logLevel: 'io.modelcontextprotocol/logLevel',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
});

/**
 * The list-change notifications a `subscriptions/listen` filter opts in to,
 * by filter member: the notification and the capability that offers it.
 */
const LIST_CHANGES = Object.freeze({
  toolsListChanged: { method: 'notifications/tools/list_changed', feature: 'tools' },
  promptsListChanged: { method: 'notifications/prompts/list_changed', feature: 'prompts' },
  resourcesListChanged: { method: 'notifications/resources/list_changed', feature: 'resources' },
});
const RESOURCE_UPDATED = 'notifications/resources/updated';
const RESERVED_META_PREFIX = 'io.modelcontextprotocol/';

/** JSON-RPC error codes, the revision's own included (MCP 2026-07-28, Basic / Errors). */
export const SESSIONLESS_ERROR_CODES = Object.freeze({
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  HEADER_MISMATCH: -32020,
  MISSING_REQUIRED_CLIENT_CAPABILITY: -32021,
  UNSUPPORTED_PROTOCOL_VERSION: -32022,
});
const CODES = SESSIONLESS_ERROR_CODES;

/**
 * The HTTP status of a JSON answer carrying a JSON-RPC error, by its code
 * (MCP 2026-07-28, Basic / Transports / Streamable HTTP); other codes are
 * answered with 200.
 */
const ERROR_HTTP_STATUS = new Map([
  [-32700, 400],
  [CODES.INVALID_REQUEST, 400],
  [CODES.INVALID_PARAMS, 400],
  [CODES.HEADER_MISMATCH, 400],
  [CODES.MISSING_REQUIRED_CLIENT_CAPABILITY, 400],
  [CODES.UNSUPPORTED_PROTOCOL_VERSION, 400],
  [CODES.METHOD_NOT_FOUND, 404],
]);

/** The params member each name-bearing method mirrors in `Mcp-Name`. */
const NAME_PARAMS = Object.freeze({ 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' });

/** The routing headers, which must come once. */
const ROUTING_HEADERS = new Set(['mcp-protocol-version', 'mcp-method', 'mcp-name']);

/** Logging levels, least severe first (RFC 5424 as MCP names them). */
const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** The client capability each server request needs. */
const SERVER_REQUEST_CAPABILITIES = Object.freeze({
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
});

/** The prefix of the `requestState` the endpoint hands out. */
const STATE_PREFIX = 'fastmcp-bridge/';

/**
 * Whether a POST speaks the sessionless revision: it has no
 * `Mcp-Session-Id`, and its `MCP-Protocol-Version` names none of the
 * handshake revisions (an unknown one too, which then gets
 * `UNSUPPORTED_PROTOCOL_VERSION` with the supported list).
 * @param {import('express').Request} req
 */
export function isSessionless(req) {
  const version = req.get('mcp-protocol-version');
  return version !== undefined && !HANDSHAKE_VERSIONS.includes(version) && req.get('mcp-session-id') === undefined;
}

/**
 * Who a request comes from, as a key: its principal (`req.auth`, any
 * JSON value, by value), else its peer (as the limits count it).
 */
function principalOf(req) {
  const principal = req.auth;
  if (principal !== undefined && principal !== null) {
    try {
      return `principal:${JSON.stringify(principal)}`;
    } catch {
      // A principal that is no JSON value (a cycle, a BigInt) falls back to the peer.
    }
  }
  return principalKey(req);
}

/** A rejection: the JSON-RPC error an invalid request gets. */
class Rejection {
  constructor(code, message, data) {
    this.code = code;
    this.message = message;
    this.data = data;
  }
}

/**
 * Checks a request's envelope, in the revision's order: the `_meta` keys,
 * the routing headers against the body, then the revision.
 * @returns {Rejection | { version: string, clientInfo: unknown, capabilities: object, logLevel: string | undefined }}
 */
function classify(req, message) {
  const meta = message.params?._meta;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    return new Rejection(CODES.INVALID_PARAMS, `params._meta must be an object with ${META.protocolVersion} and ${META.clientCapabilities}`);
  }
  const missing = [META.protocolVersion, META.clientCapabilities].filter((key) => !(key in meta));
  if (missing.length) return new Rejection(CODES.INVALID_PARAMS, `params._meta lacks ${missing.join(', ')}`);
  const seen = new Set();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (!ROUTING_HEADERS.has(name)) continue;
    if (seen.has(name)) return new Rejection(CODES.HEADER_MISMATCH, `the ${name} header is given more than once`);
    seen.add(name);
  }
  const version = meta[META.protocolVersion];
  if (req.get('mcp-protocol-version') !== version) {
    return new Rejection(CODES.HEADER_MISMATCH, "the MCP-Protocol-Version header does not match params._meta's protocol version");
  }
  if (req.get('mcp-method') !== message.method) {
    return new Rejection(CODES.HEADER_MISMATCH, "the Mcp-Method header does not match the request's method");
  }
  const nameParam = NAME_PARAMS[message.method];
  const named = nameParam === undefined ? undefined : message.params[nameParam];
  if (named !== undefined && named !== null && decodeHeaderValue(req.get('mcp-name')) !== named) {
    return new Rejection(CODES.HEADER_MISMATCH, `the Mcp-Name header does not match the request's ${nameParam}`);
  }
  if (version !== SESSIONLESS_PROTOCOL_VERSION) {
    return new Rejection(CODES.UNSUPPORTED_PROTOCOL_VERSION, 'Unsupported protocol version', {
      supported: [SESSIONLESS_PROTOCOL_VERSION, ...HANDSHAKE_VERSIONS],
      requested: version,
    });
  }
  const capabilities = meta[META.clientCapabilities];
  if (capabilities === null || typeof capabilities !== 'object' || Array.isArray(capabilities)) {
    return new Rejection(CODES.INVALID_PARAMS, `params._meta's ${META.clientCapabilities} must be an object`);
  }
  const logLevel = meta[META.logLevel];
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) {
    return new Rejection(CODES.INVALID_PARAMS, `params._meta's ${META.logLevel} must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return { version, clientInfo: meta[META.clientInfo], capabilities, logLevel };
}

/**
 * The params sent to the workspace: without the revision's `_meta` keys
 * (the upstream session carries the client's identity) and the progress
 * token (the core asks for progress with its own). `inputResponses` and a
 * `requestState` of the workspace's own go as they are.
 */
function upstreamParams(params) {
  const { _meta: meta, ...rest } = params;
  const kept = Object.entries(meta).filter(([key]) => key !== 'progressToken' && !key.startsWith(RESERVED_META_PREFIX));
  return kept.length ? { ...rest, _meta: Object.fromEntries(kept) } : rest;
}

/**
 * The methods whose results carry caching hints (MCP 2026-07-28, Server
 * Features, caching: `ttlMs`, `cacheScope`).
 */
const CACHEABLE_METHODS = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read']);

/**
 * A workspace's result, as JSON text, with the members the revision's
 * results carry and a result of an earlier revision lacks, added at its top
 * level: `"resultType": "complete"` (Basic / Multi round-trip requests) and,
 * for the cacheable methods, `"ttlMs": 0` and `"cacheScope": "private"`
 * (fresh for no time, not to be shared across authorization contexts). The
 * text is spliced, not parsed, unless it names one of them somewhere.
 * @param {string} method
 * @param {string} text
 */
export function sessionlessResult(method, text) {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('{')) return text;
  let fields = [['resultType', '"complete"']];
  if (CACHEABLE_METHODS.has(method)) fields.push(['ttlMs', '0'], ['cacheScope', '"private"']);
  if (fields.some(([key]) => trimmed.includes(`"${key}"`))) {
    const value = JSON.parse(trimmed);
    fields = fields.filter(([key]) => !Object.hasOwn(value, key));
  }
  if (!fields.length) return text;
  const added = fields.map(([key, value]) => `"${key}":${value}`).join(',');
  const rest = trimmed.slice(1).trimStart();
  return rest.startsWith('}') ? `{${added}${rest}` : `{${added},${rest}`;
}

/**
 * One client request to the workspace, over as many POSTs as its input
 * rounds take: the first POST starts the call; each `InputRequiredResult`
 * ends a POST and holds the call under its `requestState`; the retry that
 * names it takes the call on.
 */
class Exchange {
  /** @type {import('./mcp.js').PostReply | null} the POST answering for the call now */
  reply = null;
  /** The JSON-RPC id of that POST's request. */
  id = null;
  progressToken = undefined;
  logLevel = undefined;
  controller = new AbortController();
  /** Server requests sent to the client, unanswered, by key. */
  asked = new Map();
  /** Server requests not yet sent, by key. */
  queued = new Map();
  #nextKey = 1;
  #flushing = false;
  /** The call's outcome once settled and not yet delivered. */
  outcome = null;
  state = null;
  timer = null;

  constructor({ workspaceId, method, principal, capabilities, park }) {
    this.workspaceId = workspaceId;
    this.method = method;
    this.principal = principal;
    this.capabilities = capabilities;
    this.park = park;
  }

  /** Makes `reply` the POST that answers for the call. */
  attach(reply, id, progressToken, logLevel) {
    this.reply = reply;
    this.id = id;
    this.progressToken = progressToken;
    this.logLevel = logLevel;
    if (this.outcome) this.#deliver();
    else if (this.queued.size) this.#scheduleFlush();
  }

  /** The client's answers to the server requests of the last round. */
  answer(responses) {
    for (const [key, pending] of this.asked) {
      this.asked.delete(key);
      if (responses !== null && typeof responses === 'object' && Object.hasOwn(responses, key)) {
        pending.resolve(responses[key]);
      } else {
        pending.reject(Object.assign(new Error(`the MCP client gave no input response for ${pending.request.method}`), { code: CODES.INVALID_PARAMS }));
      }
    }
  }

  /**
   * A server request of the workspace: sent to the client in the next
   * InputRequiredResult. One the client's capabilities do not cover
   * (`sampling`, `elicitation`, `roots`) ends the call with
   * `MissingRequiredClientCapability` (-32021) instead.
   */
  ask(request) {
    const capability = SERVER_REQUEST_CAPABILITIES[request.method];
    if (capability !== undefined && !(capability in this.capabilities)) {
      const error = Object.assign(new Error(`the request needs the client capability ${capability}, which it did not declare (${request.method})`), {
        rpcCode: CODES.MISSING_REQUIRED_CLIENT_CAPABILITY,
        data: { requiredCapabilities: { [capability]: {} } },
      });
      this.settle({ error });
      // Ends the call and rejects the other server requests it made.
      this.abort(error);
      return Promise.reject(Object.assign(new Error(error.message), { code: CODES.MISSING_REQUIRED_CLIENT_CAPABILITY }));
    }
    return new Promise((resolve, reject) => {
      const key = `input-${this.#nextKey++}`;
      this.queued.set(key, { request, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /** Progress of the call, to the POST answering for it when it asked for progress. */
  progress(progress) {
    if (this.reply && this.progressToken !== undefined) {
      this.reply.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: this.progressToken, ...progress } });
    }
  }

  /** A logging notification, when the request opted in at or below its level; false when not sent. */
  log(message) {
    if (!this.reply || this.reply.done || this.logLevel === undefined) return false;
    if (LOG_LEVELS.indexOf(message.params?.level) < LOG_LEVELS.indexOf(this.logLevel)) return false;
    return this.reply.send(message);
  }

  /** The call settled; the first outcome counts. */
  settle(outcome) {
    if (this.outcome) return;
    this.outcome = outcome;
    if (this.reply) this.#deliver();
  }

  #scheduleFlush() {
    if (this.#flushing) return;
    this.#flushing = true;
    // Server requests that come together go out in one InputRequiredResult.
    setImmediate(() => {
      this.#flushing = false;
      if (!this.reply || this.outcome || !this.queued.size) return;
      if (this.reply.gone) {
        // Its client went away: nobody will answer.
        this.abort(new Error('the MCP client closed the response stream'));
        return;
      }
      const full = this.park.full();
      if (full) {
        // No room to hold one more call for its client: the call ends.
        this.settle({ error: full });
        this.abort(full);
        return;
      }
      const inputRequests = {};
      for (const [key, pending] of this.queued) {
        this.asked.set(key, pending);
        const { method, params } = pending.request;
        inputRequests[key] = params === undefined ? { method } : { method, params };
      }
      this.queued.clear();
      this.state = `${STATE_PREFIX}${randomUUID()}`;
      const reply = this.reply;
      this.reply = null;
      this.park(this);
      const result = { resultType: 'input_required', inputRequests, requestState: this.state };
      reply.finish({ jsonrpc: '2.0', id: this.id, result });
    });
  }

  #deliver() {
    const { reply, id } = this;
    this.reply = null;
    const { result, error } = this.outcome;
    if (error === undefined) {
      reply.finish(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${sessionlessResult(this.method, result)}}`);
      return;
    }
    if (this.controller.signal.aborted && reply.gone) {
      reply.finish(undefined);
      return;
    }
    const body = rpcErrorFor(id, error);
    reply.finish(body, error instanceof RouterError ? statusCode(error) : (ERROR_HTTP_STATUS.get(body.error.code) ?? 200));
  }

  /** Rejects what the client was asked and not yet answered, and the call. */
  abort(reason) {
    this.controller.abort(reason);
    for (const pending of [...this.asked.values(), ...this.queued.values()]) {
      pending.reject(Object.assign(new Error(reason.message), { code: CODES.INTERNAL_ERROR }));
    }
    this.asked.clear();
    this.queued.clear();
  }
}

/**
 * The sessionless side of a workspace's MCP endpoint.
 * @param {{ bridge: import('fastmcp-bridge').Bridge, maxSessions: number, sessionIdleMs: number, metrics: { observe: Function }, PostReply: typeof import('./mcp.js').PostReply }} options
 *   `maxSessions` bounds the upstream sessions kept for sessionless clients
 *   (idle ones are closed first to make room); `sessionIdleMs` closes one
 *   unused for that long, and cancels a call held for the client's input
 *   responses that long.
 */
export function sessionlessEndpoint({ bridge, maxSessions, sessionIdleMs, maxStreamBufferBytes, metrics, PostReply }) {
  /**
   * Upstream sessions by client identity: `{ key, workspaceId, handle,
   * exchanges, listeners, subscriptions, lastActive, ready }`; `listeners`
   * are the open `subscriptions/listen` streams, `subscriptions` counts
   * their resource subscriptions by URI.
   */
  const upstreams = new Map();
  /** Calls held for the client's input responses, by `requestState`. */
  const parked = new Map();

  /**
   * Holds `exchange` under its `requestState` until its client's retry, for
   * `sessionIdleMs` at most. At most `maxSessions` calls are held at once.
   */
  function park(exchange) {
    parked.set(exchange.state, exchange);
    exchange.timer = setTimeout(() => {
      if (parked.get(exchange.state) !== exchange) return;
      parked.delete(exchange.state);
      exchange.abort(new Error(`the MCP client sent no input responses within ${sessionIdleMs} ms`));
    }, sessionIdleMs).unref();
  }

  /** Why no further call can be held (a TOO_MANY_SESSIONS error), or null. */
  park.full = () =>
    parked.size < maxSessions
      ? null
      : new RouterError('TOO_MANY_SESSIONS', `the endpoint holds at most ${maxSessions} calls waiting for input responses`);

  function unpark(state) {
    const exchange = parked.get(state);
    if (!exchange) return undefined;
    parked.delete(state);
    clearTimeout(exchange.timer);
    return exchange;
  }

  /**
   * Whether nothing uses the upstream session: no call, no listen stream,
   * and no request between getting it and registering its call or stream.
   */
  const idle = (upstream) => upstream.exchanges.size === 0 && upstream.listeners.size === 0 && upstream.users === 0;

  async function closeUpstream(upstream) {
    upstreams.delete(upstream.key);
    for (const listener of upstream.listeners) listener.end();
    await upstream.handle.close().catch(() => {});
  }

  /** The upstream session for the request's client identity, opened when new. */
  async function upstreamFor(req, route) {
    const key = JSON.stringify([req.params.id, principalOf(req), route.clientInfo ?? null, route.capabilities]);
    let upstream = upstreams.get(key);
    if (!upstream) {
      if (upstreams.size >= maxSessions) {
        const oldest = [...upstreams.values()].filter(idle).sort((a, b) => a.lastActive - b.lastActive)[0];
        if (!oldest) {
          throw new RouterError('TOO_MANY_SESSIONS', `the endpoint keeps at most ${maxSessions} upstream sessions for sessionless clients`);
        }
        // Not awaited: it leaves the map at once, and this request makes
        // its own session without yielding to another one.
        closeUpstream(oldest);
      }
      const options = { capabilities: route.capabilities };
      if (route.clientInfo !== undefined && route.clientInfo !== null) options.clientInfo = route.clientInfo;
      const handle = bridge.session(req.params.id, options);
      upstream = {
        key,
        workspaceId: req.params.id,
        handle,
        exchanges: new Set(),
        listeners: new Set(),
        subscriptions: new Map(),
        marks: new ToolMarks(),
        users: 0,
        lastActive: Date.now(),
      };
      const opened = upstream;
      handle.on('notification', (message) => {
        if (message.method === 'notifications/message') {
          // The core does not say which call a log message relates to: the
          // most recent call that opted in gets it (as on session streams).
          for (const exchange of [...opened.exchanges].reverse()) if (exchange.log(message)) return;
          return;
        }
        for (const listener of opened.listeners) listener.notify(message);
      });
      upstream.ready = handle.serverInfo();
      upstreams.set(key, upstream);
    }
    upstream.lastActive = Date.now();
    // In use (not idle, so not evicted) until the caller releases it.
    upstream.users += 1;
    try {
      await upstream.ready;
    } catch (err) {
      upstream.users -= 1;
      if (upstreams.get(key) === upstream) await closeUpstream(upstream);
      throw err;
    }
    return upstream;
  }

  /** Ends a use of `upstreamFor`'s, once the call or stream is registered (or none will be). */
  function release(upstream) {
    upstream.users -= 1;
    upstream.lastActive = Date.now();
  }

  function answerError(res, id, code, message, data) {
    res.status(ERROR_HTTP_STATUS.get(code) ?? 200).json(rpcError(id, code, message, data));
  }

  async function discover(req, res, message, route) {
    const upstream = await upstreamFor(req, route);
    release(upstream);
    const info = await upstream.ready;
    const result = {
      resultType: 'complete',
      supportedVersions: [SESSIONLESS_PROTOCOL_VERSION, ...HANDSHAKE_VERSIONS],
      capabilities: info.capabilities ?? {},
      serverInfo: info.serverInfo,
      cacheScope: 'private',
      ttlMs: 0,
      _meta: { [META.serverInfo]: info.serverInfo },
    };
    if (typeof info.instructions === 'string') result.instructions = info.instructions;
    res.json({ jsonrpc: '2.0', id: message.id, result });
  }

  /** Subscribes the upstream session to `uri` for one more listener; false when the workspace refuses. */
  async function subscribe(upstream, uri) {
    let subscription = upstream.subscriptions.get(uri);
    if (!subscription) {
      // The first listener's request; later ones wait for its answer.
      const accepted = upstream.handle.call('resources/subscribe', { uri }).then(() => true, () => false);
      subscription = { count: 0, accepted };
      upstream.subscriptions.set(uri, subscription);
    }
    subscription.count += 1;
    if (await subscription.accepted) return true;
    unsubscribe(upstream, uri, false);
    return false;
  }

  /** One listener fewer for `uri`; the last one unsubscribes the upstream session. */
  function unsubscribe(upstream, uri, upstreamToo = true) {
    const subscription = upstream.subscriptions.get(uri);
    if (!subscription) return;
    subscription.count -= 1;
    if (subscription.count > 0) return;
    upstream.subscriptions.delete(uri);
    if (upstreamToo && upstreams.get(upstream.key) === upstream) {
      upstream.handle.call('resources/unsubscribe', { uri }).catch(() => {});
    }
  }

  /**
   * `subscriptions/listen` (MCP 2026-07-28, Basic / Utilities /
   * Subscriptions): an SSE stream that first acknowledges what it will
   * carry (what the filter asks and the workspace's capabilities offer:
   * `listChanged` per feature, `resources.subscribe` for the URIs), then
   * carries those notifications of the upstream session, each with the
   * request's id as `_meta["io.modelcontextprotocol/subscriptionId"]`,
   * until the client closes it; the endpoint closing ends it with a result.
   */
  async function listen(req, res, message, route) {
    const filter = message.params.notifications;
    if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
      answerError(res, message.id, CODES.INVALID_PARAMS, 'params.notifications must be an object (a SubscriptionFilter)');
      return;
    }
    const requested = filter.resourceSubscriptions ?? [];
    if (!Array.isArray(requested) || !requested.every((uri) => typeof uri === 'string')) {
      answerError(res, message.id, CODES.INVALID_PARAMS, 'params.notifications.resourceSubscriptions must be an array of URIs');
      return;
    }
    const upstream = await upstreamFor(req, route);
    try {
      await openListen(req, res, message, filter, requested, upstream);
    } finally {
      release(upstream);
    }
  }

  async function openListen(req, res, message, filter, requested, upstream) {
    const capabilities = (await upstream.ready).capabilities ?? {};
    const honored = {};
    const methods = new Set();
    for (const [member, { method, feature }] of Object.entries(LIST_CHANGES)) {
      if (filter[member] === true && capabilities[feature]?.listChanged === true) {
        honored[member] = true;
        methods.add(method);
      }
    }
    const uris = new Set();
    if (capabilities.resources?.subscribe === true) {
      for (const uri of new Set(requested)) if (await subscribe(upstream, uri)) uris.add(uri);
    }
    if (uris.size) honored.resourceSubscriptions = [...uris];
    const meta = { [META.subscriptionId]: message.id };
    if (res.destroyed) {
      for (const uri of uris) unsubscribe(upstream, uri);
      return;
    }
    const stream = new SseStream(res, {}, { maxBufferedBytes: maxStreamBufferBytes }).keepAlive();
    const listener = {
      notify(notification) {
        const { method, params } = notification;
        const wanted = methods.has(method) || (method === RESOURCE_UPDATED && uris.has(params?.uri));
        if (wanted) stream.send({ jsonrpc: '2.0', method, params: { ...params, _meta: { ...params?._meta, ...meta } } });
      },
      /** Ends the stream with the listen request's result (a graceful close). */
      end() {
        stream.sendJson(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { resultType: 'complete', _meta: meta } }));
        stream.end();
      },
    };
    upstream.listeners.add(listener);
    res.on('close', () => {
      upstream.listeners.delete(listener);
      upstream.lastActive = Date.now();
      for (const uri of uris) unsubscribe(upstream, uri);
    });
    stream.send({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: honored, _meta: meta } });
  }

  /**
   * Why a `tools/call`'s `Mcp-Param-*` headers disagree with its arguments
   * (param-headers.js), or null. The marks come from the `tools/list`
   * results relayed to this client identity; before any, a call with
   * arguments or such headers lists the tools once (every page, at most
   * 100), and one the workspace refuses to list is not checked.
   */
  async function paramMismatch(upstream, params, req) {
    const args = params.arguments;
    const hasHeaders = req.rawHeaders.some((name, i) => i % 2 === 0 && name.toLowerCase().startsWith('mcp-param-'));
    const hasArgs = args !== null && typeof args === 'object' && Object.keys(args).length > 0;
    if (!upstream.marks.listed && (hasHeaders || hasArgs)) {
      try {
        let cursor;
        for (let page = 0; page < 100; page += 1) {
          const text = await upstream.handle.call('tools/list', cursor === undefined ? {} : { cursor }, { raw: true });
          upstream.marks.learn(text, page === 0);
          cursor = JSON.parse(text).nextCursor;
          if (typeof cursor !== 'string') break;
        }
      } catch {
        return null;
      }
    }
    const marks = typeof params.name === 'string' ? upstream.marks.of(params.name) : undefined;
    return marks ? paramHeaderMismatch(marks, args, req) : null;
  }

  /** Holds the POST until the exchange answers it (or its client goes away). */
  function answered(exchange, reply, res) {
    return new Promise((resolve) => {
      const closed = () => {
        // Closing the response stream cancels the request (MCP 2026-07-28,
        // Basic / Transports / Streamable HTTP, Cancellation).
        if (!reply.done && exchange.reply === reply) exchange.abort(new Error('the MCP client closed the response stream'));
        resolve();
      };
      // 'close' fires once: a client gone before this point is seen here.
      if (res.destroyed) closed();
      else res.on('close', closed);
    });
  }

  async function call(req, res, message, route) {
    const params = message.params;
    const reply = new PostReply(res, {});
    const token = params._meta.progressToken;
    if (typeof params.requestState === 'string' && params.requestState.startsWith(STATE_PREFIX)) {
      const exchange = unpark(params.requestState);
      if (!exchange || exchange.workspaceId !== req.params.id || exchange.method !== message.method || exchange.principal !== principalOf(req)) {
        if (exchange) park(exchange);
        answerError(res, message.id, CODES.INVALID_PARAMS, 'requestState names no call waiting for input responses here (unknown, expired or already answered)');
        return;
      }
      exchange.attach(reply, message.id, token, route.logLevel);
      const done = answered(exchange, reply, res);
      exchange.answer(params.inputResponses);
      await done;
      return;
    }
    const upstream = await upstreamFor(req, route);
    const exchange = new Exchange({
      workspaceId: req.params.id,
      method: message.method,
      principal: principalOf(req),
      capabilities: route.capabilities,
      park,
    });
    try {
      if (message.method === 'tools/call') {
        const why = await paramMismatch(upstream, params, req);
        if (why) {
          answerError(res, message.id, CODES.HEADER_MISMATCH, why);
          return;
        }
      }
      upstream.exchanges.add(exchange);
    } finally {
      release(upstream);
    }
    exchange.attach(reply, message.id, token, route.logLevel);
    const done = answered(exchange, reply, res);
    const options = {
      signal: exchange.controller.signal,
      raw: true,
      onRequest: (request) => exchange.ask(request),
      onProgress: (progress) => exchange.progress(progress),
      ...principalOption(req),
    };
    const started = performance.now();
    let outcome = 'ok';
    // A logging notification the workspace sent before its response comes
    // to JS on another path than the call's promise, and may come just
    // after it: one turn of the event loop lets it reach the response
    // stream first (there is no later stream to send it on).
    const settle = async (settled) => {
      if (route.logLevel !== undefined) await new Promise(setImmediate);
      exchange.settle(settled);
    };
    try {
      const result = await upstream.handle.call(message.method, upstreamParams(params), options);
      if (message.method === 'tools/list') upstream.marks.learn(result, params.cursor === undefined);
      await settle({ result });
    } catch (err) {
      if (!(err instanceof BridgeError)) {
        outcome = 'error';
        exchange.settle({ error: new Error('internal error') });
        throw err;
      }
      outcome = exchange.controller.signal.aborted ? 'cancelled' : 'error';
      await settle({ error: err });
    } finally {
      upstream.exchanges.delete(exchange);
      upstream.lastActive = Date.now();
      metrics.observe(req.params.id, message.method, (performance.now() - started) / 1000, outcome);
    }
    await done;
  }

  return {
    /**
     * Answers one POSTed JSON-RPC message of the sessionless revision.
     * @param {{ isRequest: boolean, isNotification: boolean }} kind
     */
    async post(req, res, message, { isRequest, isNotification }) {
      if (isNotification) {
        // The revision has no client notifications on this transport
        // (cancellation is closing the response stream): acknowledged and dropped.
        res.status(202).end();
        return;
      }
      if (!isRequest) {
        answerError(res, message.id, CODES.INVALID_REQUEST, 'the 2026-07-28 revision has no server requests for a client to answer');
        return;
      }
      const route = classify(req, message);
      if (route instanceof Rejection) {
        answerError(res, message.id, route.code, route.message, route.data);
        return;
      }
      if (message.method === 'server/discover') await discover(req, res, message, route);
      else if (message.method === 'subscriptions/listen') await listen(req, res, message, route);
      else await call(req, res, message, route);
    },

    /** Closes upstream sessions unused for `sessionIdleMs`. */
    sweep(now) {
      for (const upstream of upstreams.values()) {
        if (idle(upstream) && now - upstream.lastActive > sessionIdleMs) closeUpstream(upstream);
      }
    },

    /** The upstream sessions kept for sessionless clients (of one workspace). */
    upstreamCount(workspaceId) {
      let count = 0;
      for (const upstream of upstreams.values()) if (workspaceId === undefined || upstream.workspaceId === workspaceId) count += 1;
      return count;
    },

    /** Closes the upstream sessions of a workspace that was removed (a new one is opened on the next request). */
    forget(workspaceId) {
      for (const upstream of [...upstreams.values()]) if (upstream.workspaceId === workspaceId) closeUpstream(upstream);
    },

    /** Cancels held calls and closes every upstream session. */
    async close() {
      for (const state of [...parked.keys()]) unpark(state)?.abort(new Error('the MCP endpoint closed'));
      await Promise.all([...upstreams.values()].map(closeUpstream));
    },
  };
}
