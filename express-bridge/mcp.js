// The MCP streamable HTTP endpoint of a workspace (MCP 2025-06-18 and
// 2025-11-25, Basic / Transports / Streamable HTTP), relaying each
// downstream MCP session to its own upstream session on the workspace's
// process (`bridge.session`).
//
// Hand-written rather than built on the SDK's StreamableHTTPServerTransport:
// that transport fixes JSON or SSE answers per transport (`enableJsonResponse`),
// and in JSON mode drops every message related to a request (progress,
// sampling), while this endpoint answers JSON and switches to SSE only when
// such a message comes before the result. It also converts every Node
// request to a Web Request (through @hono/node-server), which costs CPU the
// workspace processes need on small machines.
//
// A POSTed request in an MCP session takes the fast path: its body's bytes
// go to the native core (`session.forward`), which checks and relays the
// request as it came, and the response's text is written as it comes back;
// nothing is parsed here. What the core leaves to JS goes to `post`, which
// parses (see the package README, "The fast path").
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

import express from 'express';
import { BridgeError } from 'fastmcp-bridge';
import onFinished from 'on-finished';

import { parseBytes, readBytes, readsAsBytes } from './body.js';
import { fromBodyParser, isAnswerable, RouterError, rpcError, rpcErrorFor, statusCode } from './errors.js';
import { principalOption } from './limits.js';
import { isSessionless, SESSIONLESS_PROTOCOL_VERSION, sessionlessEndpoint } from './sessionless.js';
import { SseStream } from './sse.js';

/**
 * MCP revisions the endpoint negotiates, newest first: the handshake
 * revisions of the package's `protocol.json`, which the Rust core speaks to
 * the workspaces too.
 */
export const SUPPORTED_PROTOCOL_VERSIONS = Object.freeze([...createRequire(import.meta.url)('../protocol.json').handshake]);

/** Assumed when a request has no MCP-Protocol-Version header (MCP 2025-06-18, Transports / Protocol Version Header). */
const DEFAULT_PROTOCOL_VERSION = '2025-03-26';

/** Server-to-client requests relayed to the MCP client. */
const SERVER_REQUESTS = ['sampling/createMessage', 'elicitation/create', 'roots/list'];

/** `Accept` values of MCP clients that list both types a POST's answer may have. */
const COMMON_ACCEPT = new Set(['application/json, text/event-stream', 'text/event-stream, application/json', 'application/json,text/event-stream']);

const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INTERNAL_ERROR = -32603;

export const MCP_PATH = '/workspaces/:id/mcp';

/** Marks a request the front door (`withMcpFastPath`) checked, read and handed on to the app. */
const HANDED_ON = Symbol('fastmcp-bridge.handedOn');

function negotiate(requested) {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : SUPPORTED_PROTOCOL_VERSIONS[0];
}

/**
 * A JSON-RPC id (a number or a string) as a map key: its JSON text, which
 * keeps `1` and `"1"` apart and is the `id` that `session.forward` gives.
 */
function idKey(id) {
  return JSON.stringify(id);
}

/** `params` without the client's progress token; the core asks for progress with its own. */
function withoutProgressToken(params) {
  const { progressToken: _token, ...meta } = params._meta;
  const { _meta: _omit, ...rest } = params;
  return Object.keys(meta).length ? { ...rest, _meta: meta } : rest;
}

/**
 * The answer to one POSTed request: JSON, unless a related message (progress,
 * a server request) comes first, which turns it into an SSE stream.
 */
export class PostReply {
  #res;
  #headers;
  #sse = null;
  done = false;

  /**
   * Its SSE stream has no buffer limit: it lives as long as the call, and
   * cutting it would lose the response.
   * @param {import('express').Response} res
   * @param {Record<string, string>} headers sent with the answer, JSON or SSE (e.g. `Mcp-Session-Id`)
   */
  constructor(res, headers) {
    this.#res = res;
    this.#headers = headers;
  }

  /** Whether the answer has become an SSE stream. */
  get streaming() {
    return this.#sse !== null;
  }

  /** Whether the HTTP client went away before the answer. */
  get gone() {
    return this.#res.destroyed || (this.#sse?.closed ?? false);
  }

  /** Sends a related message, opening the SSE stream if needed; false once done or gone. */
  send(message) {
    if (this.done || this.#res.destroyed) return false;
    this.#sse ??= new SseStream(this.#res, this.#headers);
    return this.#sse.send(message);
  }

  /**
   * Sends the response (or nothing) and ends the answer.
   * @param {object | string | undefined} message the JSON-RPC response, or its JSON text
   * @param {number} [status] the HTTP status when the answer is JSON (default 200)
   */
  finish(message, status = 200) {
    if (this.done) return;
    this.done = true;
    if (this.#res.destroyed) return;
    if (!this.#sse && message === undefined) {
      // A request the client cancelled gets no response (MCP, Utilities /
      // Cancellation); an empty stream is a valid answer to its POST.
      this.#sse = new SseStream(this.#res, this.#headers);
    }
    const json = typeof message === 'string' ? message : JSON.stringify(message);
    if (this.#sse) {
      if (message !== undefined) this.#sse.sendJson(json);
      this.#sse.end();
    } else {
      // Written directly rather than with res.json(): an answer to a POST
      // needs no ETag (which res.json() hashes the body for) nor freshness check.
      this.#res.writeHead(status, {
        ...this.#headers,
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(json),
      });
      this.#res.end(json);
    }
  }
}

/** One downstream MCP session and its upstream session on the workspace's process. */
class McpSession {
  /** @type {SseStream | null} the GET stream */
  stream = null;
  /** In-flight client requests by id (`idKey`): `{ abort(reason), reply, cancelled }`. */
  inflight = new Map();
  /** Server requests relayed to the client, by the id the client sees. */
  serverRequests = new Map();
  #nextServerRequestId = 1;
  closed = false;

  constructor(id, workspaceId, upstream, protocolVersion, onClose) {
    this.id = id;
    this.workspaceId = workspaceId;
    this.upstream = upstream;
    this.protocolVersion = protocolVersion;
    this.onClose = onClose;
    this.lastActive = Date.now();
  }

  touch() {
    this.lastActive = Date.now();
  }

  /**
   * Sends a server request to the client, on the related request's stream
   * when there is one, else on the GET stream, and resolves with the
   * client's result (or rejects with its JSON-RPC error).
   */
  relay(request, reply) {
    const target = reply && !reply.done && !reply.gone ? reply : this.stream;
    if (this.closed || !target || target.closed) {
      const err = new Error(`the MCP client has no open stream for ${request.method}`);
      err.code = INTERNAL_ERROR;
      return Promise.reject(err);
    }
    const id = `fastmcp-bridge-${this.#nextServerRequestId++}`;
    return new Promise((resolve, reject) => {
      this.serverRequests.set(idKey(id), { resolve, reject, target });
      const message = { jsonrpc: '2.0', id, method: request.method };
      if (request.params !== undefined) message.params = request.params;
      if (!target.send(message)) {
        this.serverRequests.delete(idKey(id));
        reject(Object.assign(new Error('the MCP client stream closed'), { code: INTERNAL_ERROR }));
      }
    });
  }

  /**
   * Rejects the server requests relayed on `target` (a POST's answer or the
   * GET stream) that the client had not answered when that stream closed:
   * it can no longer see them, and the workspace should not wait for them.
   */
  abandon(target) {
    for (const [key, pending] of this.serverRequests) {
      if (pending.target !== target) continue;
      this.serverRequests.delete(key);
      pending.reject(Object.assign(new Error('the MCP client stream closed before the answer'), { code: INTERNAL_ERROR }));
    }
  }

  /** A JSON-RPC response POSTed by the client: settles the relayed server request. */
  respond(message) {
    const key = idKey(message.id);
    const pending = this.serverRequests.get(key);
    if (!pending) return;
    this.serverRequests.delete(key);
    if (message.error) {
      const { code, message: text, data } = message.error;
      pending.reject(Object.assign(new Error(String(text ?? 'client error')), {
        code: Number.isInteger(code) ? code : INTERNAL_ERROR,
        data,
      }));
    } else {
      pending.resolve(message.result ?? {});
    }
  }

  /**
   * A server notification of the upstream session. The core does not say
   * which request it relates to: logging goes to the stream of the most
   * recent request in flight (the hub attributes child logging the same
   * way), everything else to the GET stream; with no stream it is dropped,
   * which the spec allows.
   */
  notify(message) {
    if (this.closed) return;
    if (message.method === 'notifications/message') {
      const latest = [...this.inflight.values()].reverse().find((entry) => !entry.reply.done && !entry.reply.gone);
      if (latest?.reply.send(message)) return;
    }
    this.stream?.send(message);
  }

  /** A client's `notifications/cancelled`: aborts the upstream call. */
  cancel(requestId) {
    const entry = this.inflight.get(idKey(requestId));
    if (!entry) return;
    entry.cancelled = true;
    entry.abort(new Error('cancelled by the MCP client'));
  }

  /** Ends the session and its upstream session; idempotent. */
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    for (const entry of this.inflight.values()) entry.abort(new Error('MCP session ended'));
    for (const pending of this.serverRequests.values()) {
      pending.reject(Object.assign(new Error('MCP session ended'), { code: INTERNAL_ERROR }));
    }
    this.serverRequests.clear();
    this.stream?.end();
    await this.upstream.close().catch(() => {});
  }
}

/**
 * Adds the MCP endpoint to `router`.
 * @returns {{ sessionCount: (workspaceId?: string) => number, close: () => Promise<void> }}
 */
export function mcpRoutes(router, { bridge, guards, limits = [], maxBodyBytes, maxSessions, sessionIdleMs, maxStreamBufferBytes, metrics }) {
  /** @type {Map<string, McpSession>} */
  const sessions = new Map();
  const sessionless = sessionlessEndpoint({ bridge, maxSessions, sessionIdleMs, maxStreamBufferBytes, metrics, PostReply });
  const parseJson = express.json({ limit: maxBodyBytes, strict: false, type: () => true });
  // A client too slow to read its GET stream is cut off (MCP lets a server
  // close that stream; without an event store its unsent messages are lost).
  const streamOptions = { maxBufferedBytes: maxStreamBufferBytes };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) {
      const idle = !session.stream && session.inflight.size === 0;
      if (idle && now - session.lastActive > sessionIdleMs) session.close();
    }
    sessionless.sweep(now);
  }, Math.max(1000, Math.min(sessionIdleMs / 2, 60_000))).unref();

  // A workspace removed from the bridge (e.g. moved to another node of a
  // cluster) takes its upstream sessions along: its clients' MCP sessions
  // end, so their next request gets 404 and they initialize again (MCP
  // 2025-06-18, Basic / Transports / Streamable HTTP, Session Management).
  const onRemoved = (workspaceId) => {
    for (const session of [...sessions.values()]) if (session.workspaceId === workspaceId) session.close();
    sessionless.forget(workspaceId);
  };
  bridge.on('removed', onRemoved);

  function markMcp(_req, res, next) {
    res.locals.fastmcpBridgeApi = 'mcp';
    next();
  }

  function checkProtocolVersion(req) {
    const version = req.get('mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      throw new RouterError('UNSUPPORTED_PROTOCOL_VERSION', `unsupported MCP-Protocol-Version ${JSON.stringify(version)}`, {
        details: { supported: SUPPORTED_PROTOCOL_VERSIONS },
      });
    }
  }

  /** The request's session: 400 without the header, 404 for an unknown or ended one. */
  function sessionOf(req) {
    const sessionId = req.get('mcp-session-id');
    if (!sessionId) throw new RouterError('SESSION_REQUIRED', 'Mcp-Session-Id header is required');
    const session = sessions.get(sessionId);
    if (!session || session.workspaceId !== req.params.id) {
      throw new RouterError('SESSION_NOT_FOUND', 'MCP session not found; initialize a new one');
    }
    session.touch();
    return session;
  }

  function checkPostHeaders(req, _res, next) {
    const accept = req.headers.accept;
    // The values MCP clients send are taken as they are; any other goes
    // through content negotiation (q-values, wildcards).
    if (!COMMON_ACCEPT.has(accept) && (!accept || !req.accepts('application/json') || !req.accepts('text/event-stream'))) {
      return next(new RouterError('NOT_ACCEPTABLE', 'Accept must list application/json and text/event-stream'));
    }
    const header = req.headers['content-type'];
    const type = header === 'application/json' ? header : (header ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') {
      return next(new RouterError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'));
    }
    next();
  }

  async function initialize(req, res, message) {
    if (sessions.size >= maxSessions) {
      res.set('Retry-After', '5');
      throw new RouterError('TOO_MANY_SESSIONS', `the endpoint serves at most ${maxSessions} MCP sessions`);
    }
    const params = message.params ?? {};
    const upstream = bridge.session(req.params.id, {
      clientInfo: params.clientInfo,
      capabilities: params.capabilities,
    });
    const protocolVersion = negotiate(params.protocolVersion);
    const session = new McpSession(randomUUID(), req.params.id, upstream, protocolVersion, (s) => sessions.delete(s.id));
    for (const method of SERVER_REQUESTS) upstream.onRequest(method, (request) => session.relay(request, null));
    upstream.on('notification', (notification) => session.notify(notification));
    let info;
    try {
      info = await upstream.serverInfo();
    } catch (err) {
      await upstream.close().catch(() => {});
      throw err;
    }
    sessions.set(session.id, session);
    res.set('Mcp-Session-Id', session.id).json({ jsonrpc: '2.0', id: message.id, result: { ...info, protocolVersion } });
  }

  async function forward(req, res, session, message) {
    const { id, method } = message;
    const key = idKey(id);
    const reply = new PostReply(res, { 'Mcp-Session-Id': session.id });
    const controller = new AbortController();
    const entry = { abort: (reason) => controller.abort(reason), reply, cancelled: false };
    session.inflight.set(key, entry);
    // Without an event store a response can never be redelivered, so a
    // client that went away no longer needs the call.
    res.on('close', () => {
      if (!reply.done) entry.abort(new Error('MCP client disconnected'));
      session.abandon(reply);
    });
    let params = message.params;
    const token = params?._meta?.progressToken;
    // `raw`: the result goes out as the text the workspace wrote, spliced
    // into the response, without a parse and a re-serialization here.
    const options = {
      signal: controller.signal,
      onRequest: (request) => session.relay(request, reply),
      raw: true,
      mcpSession: session.id,
      ...principalOption(req),
    };
    if (token !== undefined) {
      params = withoutProgressToken(params);
      options.onProgress = (progress) => {
        reply.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, ...progress } });
      };
    }
    const started = performance.now();
    let outcome = 'ok';
    try {
      const result = await session.upstream.call(method, params, options);
      reply.finish(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${result}}`);
    } catch (err) {
      if (!(err instanceof BridgeError)) {
        outcome = 'error';
        reply.finish(rpcError(id, INTERNAL_ERROR, 'internal error'));
        throw err;
      }
      outcome = entry.cancelled ? 'cancelled' : 'error';
      // A JSON-RPC error is an answer to the request: HTTP 200 with the error
      // object, so MCP clients see its code.
      reply.finish(entry.cancelled ? undefined : rpcErrorFor(id, err));
    } finally {
      if (session.inflight.get(key) === entry) session.inflight.delete(key);
      metrics.observe(session.workspaceId, method, (performance.now() - started) / 1000, outcome);
    }
  }

  /**
   * The fast path of a POST in an MCP session: the body's bytes go to the
   * native core (`session.forward`), which checks the request and relays
   * it upstream as it came, and the JSON-RPC response's text comes back to
   * be written as it is. Nothing of the message is parsed here. Returns
   * false, having done nothing, for a message the core leaves to `post`
   * (not one plain request: see `Session.forward`).
   */
  function forwardBytes(req, res, session, body) {
    const reply = new PostReply(res, { 'Mcp-Session-Id': session.id });
    const principal = req.auth;
    const options = {
      onRequest: (request) => session.relay(request, reply),
      mcpSession: session.id,
    };
    if (typeof principal === 'string' || typeof principal === 'number') options.principal = String(principal);
    const forwarded = session.upstream.forward(body, options);
    if (forwarded === null) return false;
    const { id: key, method } = forwarded;
    const entry = { abort: forwarded.cancel, reply, cancelled: false };
    session.inflight.set(key, entry);
    // As in `forward`: a client that went away no longer needs the call.
    res.on('close', () => {
      if (!reply.done) forwarded.cancel();
      session.abandon(reply);
    });
    const started = performance.now();
    forwarded.response.then(
      (response) => {
        reply.finish(response);
        settle('ok');
      },
      (err) => {
        reply.finish(entry.cancelled ? undefined : rpcErrorFor(JSON.parse(key), err));
        settle(entry.cancelled ? 'cancelled' : 'error');
      },
    );
    function settle(outcome) {
      if (session.inflight.get(key) === entry) session.inflight.delete(key);
      metrics.observe(session.workspaceId, method, (performance.now() - started) / 1000, outcome);
    }
    return true;
  }

  /**
   * POST: the guards, the limits and the header checks, then the body: as
   * bytes for the fast path when it is a plain request in an MCP session,
   * else parsed (`post`). One handler rather than a chain of middlewares,
   * each a dispatch of Express's router, in the same order and with the
   * same errors.
   */
  function postMcp(req, res, next) {
    res.locals.fastmcpBridgeApi = 'mcp';
    // Checked and parsed by this router's front door already, which left
    // it to `post`. A mark of another router (a `prefix` that is not where
    // the router is mounted) is ignored: the guards run here again, on the
    // body it parsed.
    const handed = req[HANDED_ON];
    if (handed !== undefined && handed.direct === direct && handed.id === req.params.id) return void post(req, res).catch(next);
    const checked = guards.checkRequest(req);
    if (checked === undefined) return limited(req, res, next);
    if (checked instanceof Promise) return void checked.then((err) => (err ? next(err) : limited(req, res, next)), next);
    next(checked);
  }

  function limited(req, res, next) {
    if (limits.length === 0) return checked(req, res, next);
    let i = 0;
    const step = (err) => {
      if (err) return next(err);
      if (i === limits.length) return checked(req, res, next);
      const limit = limits[i++];
      try {
        limit(req, res, step);
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  }

  function checked(req, res, next) {
    checkPostHeaders(req, res, (err) => {
      if (err) return next(err);
      // A body an app-level parser (e.g. `app.use(express.json())`) has
      // read already is taken as it parsed it, as express.json() does.
      if (!readsAsBytes(req) || onFinished.isFinished(req)) {
        return parseJson(req, res, (parseErr) => (parseErr ? next(parseErr) : post(req, res).catch(next)));
      }
      readBytes(req, maxBodyBytes, (readErr, body) => {
        if (readErr) return next(readErr);
        try {
          if (inSessionRequest(req, res, body)) return;
          req.body = parseBytes(body);
        } catch (thrown) {
          return next(thrown);
        }
        post(req, res).catch(next);
      });
    });
  }

  /**
   * Takes the fast path when the request is in a known MCP session with a
   * supported protocol version and its body a plain request; false to
   * leave it to `post`, which checks all of that again in its own order.
   */
  function inSessionRequest(req, res, body) {
    const sessionId = req.headers['mcp-session-id'];
    if (sessionId === undefined) return false;
    const version = req.headers['mcp-protocol-version'];
    if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return false;
    const session = sessions.get(sessionId);
    if (!session || session.workspaceId !== req.params.id) return false;
    session.touch();
    return forwardBytes(req, res, session, body);
  }

  /**
   * The front door's part (`withMcpFastPath`): a POST to workspace `id`'s
   * endpoint with an `Mcp-Session-Id`, outside Express. The guards run,
   * then the body is read and relayed as on the fast path; the guards'
   * and the body's errors are answered here as the router's error handler
   * answers them. Handed to the app as it came (`handOn`) when the router
   * has limits, or the headers are not the plain ones; after the body was
   * read, parsed and marked, when the core leaves the message to `post`.
   */
  function direct(req, res, id, handOn, app) {
    const type = req.headers['content-type'];
    if (limits.length > 0 || !COMMON_ACCEPT.has(req.headers.accept) || (type !== 'application/json' && type !== 'application/json; charset=utf-8') || !readsAsBytes(req)) {
      return handOn();
    }
    // `authenticate` and `authorize` are given an Express request, as on
    // the app's routes (`req.get`, `req.ip`, ...): the app's request
    // prototype, as Express sets it. Only then: it makes the request's
    // own methods slower.
    if (guards.hooked && app?.request) {
      Object.setPrototypeOf(req, app.request);
      req.res = res;
    }
    req.params = { id };
    const checkedRequest = guards.checkRequest(req);
    if (checkedRequest === undefined) return directBody(req, res, handOn);
    if (checkedRequest instanceof Promise) {
      return void checkedRequest.then((err) => (err ? fail(req, res, err) : directBody(req, res, handOn)), (err) => fail(req, res, err));
    }
    fail(req, res, checkedRequest);
  }

  function directBody(req, res, handOn) {
    readBytes(req, maxBodyBytes, (readErr, body) => {
      if (readErr) return fail(req, res, readErr);
      try {
        if (inSessionRequest(req, res, body)) return;
        req.body = parseBytes(body);
      } catch (thrown) {
        return fail(req, res, thrown);
      }
      req[HANDED_ON] = { direct, id: req.params.id };
      // Express 4's express.json() (body-parser 1) skips a body so marked;
      // body-parser 2 sees the request has ended.
      req._body = true;
      handOn();
    });
  }

  /**
   * The front door's answer to an error: what the router's error handler
   * answers on the MCP endpoint; 500 with -32603 for an error it would
   * pass on to the app's handler (e.g. a throwing `authenticate`).
   */
  function fail(req, res, raw) {
    const err = fromBodyParser(raw, maxBodyBytes);
    const body = req.body;
    const id = body && typeof body === 'object' && !Array.isArray(body) ? body.id : null;
    if (res.headersSent) return void res.end();
    const headers = { 'Content-Type': 'application/json; charset=utf-8' };
    const status = statusCode(err);
    let answer;
    if (isAnswerable(err)) {
      if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
      answer = rpcErrorFor(id, err);
    } else if (status < 500) {
      // An http-error of the body's reader (an aborted upload: 400
      // `request.aborted`): its own status, as Express answers it.
      answer = rpcError(id, INVALID_REQUEST, err.message);
    } else {
      if (!req.aborted && !res.destroyed) {
        process.emitWarning(`fastmcp-bridge/express: a request of the MCP fast path failed: ${err?.stack ?? err}`, 'FastMcpBridgeWarning');
      }
      answer = rpcError(id, INTERNAL_ERROR, 'internal error');
    }
    const text = JSON.stringify(answer);
    headers['Content-Length'] = Buffer.byteLength(text);
    res.writeHead(status, headers);
    res.end(text);
  }

  async function post(req, res) {
    const message = req.body;
    if (Array.isArray(message)) {
      throw new RouterError('INVALID_REQUEST', 'JSON-RPC batches are not supported (removed in MCP 2025-06-18)');
    }
    if (message === null || typeof message !== 'object' || message.jsonrpc !== '2.0') {
      throw new RouterError('INVALID_REQUEST', 'not a JSON-RPC 2.0 message');
    }
    const hasId = message.id !== undefined && message.id !== null;
    const isRequest = typeof message.method === 'string' && hasId;
    const isNotification = typeof message.method === 'string' && message.id === undefined;
    const isResponse = message.method === undefined && hasId && ('result' in message || 'error' in message);
    if (!isRequest && !isNotification && !isResponse) {
      throw new RouterError('INVALID_REQUEST', 'not a JSON-RPC request, notification or response');
    }
    if (isSessionless(req)) {
      await sessionless.post(req, res, message, { isRequest, isNotification });
      return;
    }
    if (isRequest && message.method === 'server/discover') {
      // The sessionless revision's probe without its MCP-Protocol-Version
      // header: a 4xx whose body is none of that revision's errors (-32020,
      // -32021, -32022), as a server of the handshake revisions answers it.
      res.status(400).json(rpcError(message.id, METHOD_NOT_FOUND, `server/discover needs the MCP-Protocol-Version header (${SESSIONLESS_PROTOCOL_VERSION}); or use initialize`));
      return;
    }
    if (isRequest && message.method === 'initialize') {
      await initialize(req, res, message);
      return;
    }
    checkProtocolVersion(req);
    const session = sessionOf(req);
    if (isResponse) {
      session.respond(message);
      res.status(202).end();
      return;
    }
    if (isNotification) {
      // `notifications/initialized` was sent upstream when the upstream
      // session opened; other client notifications (e.g. roots/list_changed)
      // cannot be sent upstream with the bridge's API and are dropped.
      if (message.method === 'notifications/cancelled') session.cancel(message.params?.requestId);
      res.status(202).end();
      return;
    }
    if (message.method === 'ping') {
      res.set('Mcp-Session-Id', session.id).json({ jsonrpc: '2.0', id: message.id, result: {} });
      return;
    }
    await forward(req, res, session, message);
  }

  function get(req, res) {
    if (!req.get('accept') || !req.accepts('text/event-stream')) {
      throw new RouterError('NOT_ACCEPTABLE', 'Accept must list text/event-stream');
    }
    checkProtocolVersion(req);
    const session = sessionOf(req);
    if (session.stream && !session.stream.closed) {
      throw new RouterError('STREAM_CONFLICT', 'this MCP session already has a GET stream open');
    }
    const stream = new SseStream(res, { 'Mcp-Session-Id': session.id }, streamOptions).keepAlive();
    session.stream = stream;
    res.on('close', () => {
      if (session.stream === stream) session.stream = null;
      session.abandon(stream);
      session.touch();
    });
  }

  async function remove(req, res) {
    checkProtocolVersion(req);
    const session = sessionOf(req);
    await session.close();
    res.status(200).end();
  }

  function methodNotAllowed() {
    throw new RouterError('METHOD_NOT_ALLOWED', 'use POST, GET or DELETE', { details: { allow: 'GET, POST, DELETE' } });
  }

  // The per-principal limits (rateLimit) count POSTed requests only: a GET
  // stream lasts, and a DELETE ends a session.
  router.post(MCP_PATH, postMcp);
  router.get(MCP_PATH, markMcp, ...guards.common, guards.checkWorkspace, get);
  router.delete(MCP_PATH, markMcp, ...guards.common, guards.checkWorkspace, remove);
  router.all(MCP_PATH, markMcp, ...guards.common, guards.checkWorkspace, methodNotAllowed);

  return {
    direct,
    sessionCount(workspaceId) {
      if (workspaceId === undefined) return sessions.size;
      let count = 0;
      for (const session of sessions.values()) if (session.workspaceId === workspaceId) count += 1;
      return count;
    },
    async close() {
      clearInterval(sweep);
      bridge.off('removed', onRemoved);
      await Promise.all([...sessions.values()].map((session) => session.close()).concat(sessionless.close()));
    },
  };
}
