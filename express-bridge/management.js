// The REST (JSON) management routes: workspaces with their supervision
// state, lifecycle (start, stop, restart), logs, the request log, the bridge's events as
// server-sent events, health, Prometheus metrics and the OpenAPI document
// that describes them.
import { RouterError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { SseStream } from './sse.js';

/** Default period of the keepalive comment on `GET /events` (ms). */
export const EVENTS_KEEPALIVE_MS = 15_000;
/** Default and largest `lines` of `GET /workspaces/:id/logs`. */
export const DEFAULT_LOG_LINES = 100;
export const MAX_LOG_LINES = 100_000;
/** Largest `graceMs` of the stop and restart routes (ms); the default is the bridge's (10000). */
export const MAX_GRACE_MS = 600_000;

/**
 * The REST view of a workspace: its supervision status (absent fields as
 * null), open MCP sessions and call metrics.
 * @param {import('fastmcp-bridge').WorkspaceStatus} status
 */
function view(status, sessions, metrics) {
  return {
    id: status.id,
    state: status.state,
    pid: status.pid ?? null,
    startedAt: status.startedAt ?? null,
    restarts: status.restarts,
    lastExit: status.lastExit ?? null,
    lastError: status.lastError ?? null,
    rssBytes: status.rssBytes ?? null,
    cpuPercent: status.cpuPercent ?? null,
    ussBytes: status.ussBytes ?? null,
    sessions,
    metrics,
  };
}

/**
 * A query parameter that must be a decimal integer in 0..max, or `fallback`
 * when absent; anything else (a sign, a fraction, a repeated parameter) is a
 * 400 INVALID_REQUEST naming the parameter.
 */
function integerParam(query, name, max, fallback) {
  const value = query[name];
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!(number <= max)) {
    throw new RouterError('INVALID_REQUEST', `${name} must be an integer from 0 to ${max}`, {
      details: { parameter: name, value },
    });
  }
  return number;
}

/**
 * The id after which `GET /events` resumes, from `Last-Event-ID` (HTML
 * Living Standard, Server-sent events): undefined when absent or empty, else
 * a decimal event id; anything else is a 400.
 */
function lastEventId(req) {
  const header = req.get('last-event-id');
  if (header === undefined || header.trim() === '') return undefined;
  if (!/^\d{1,15}$/.test(header.trim())) {
    throw new RouterError('INVALID_REQUEST', 'Last-Event-ID must be an event id from this stream', {
      details: { header: 'Last-Event-ID', value: header },
    });
  }
  return Number(header.trim());
}

/** One `'event'` listener on the bridge, shared by the open event streams; none while no stream is open. */
function eventFeed(bridge) {
  const subscribers = new Set();
  const onEvent = (event) => {
    for (const subscriber of subscribers) subscriber(event);
  };
  return (subscriber) => {
    if (subscribers.size === 0) bridge.on('event', onEvent);
    subscribers.add(subscriber);
    return () => {
      if (subscribers.delete(subscriber) && subscribers.size === 0) bridge.off('event', onEvent);
    };
  };
}

/**
 * Adds the management routes to `router`.
 * @param {import('express').Router} router
 * @param {{ bridge: import('fastmcp-bridge').Bridge, guards: ReturnType<import('./security.js').guards>,
 *   metrics: ReturnType<import('./metrics.js').bridgeMetrics>, authorize?: Function, eventsKeepAliveMs?: number,
 *   maxStreamBufferBytes?: number }} options `maxStreamBufferBytes`: as SseStream's `maxBufferedBytes`
 * @returns {{ close(): void }} ends the open event streams
 */
export function managementRoutes(router, { bridge, guards, metrics, authorize, eventsKeepAliveMs = EVENTS_KEEPALIVE_MS, maxStreamBufferBytes }) {
  function markRest(_req, res, next) {
    res.locals.fastmcpBridgeApi = 'rest';
    next();
  }
  const common = [markRest, ...guards.common];
  const workspace = [...common, guards.checkWorkspace];
  const subscribe = eventFeed(bridge);
  const streams = new Set();

  const one = (id) => view(bridge.status(id), metrics.sessionCount(id), bridge.metrics(id));

  router.get('/health', ...common, (_req, res) => {
    res.json({ status: 'ok', workspaces: bridge.workspaceIds.length, sessions: metrics.sessionCount() });
  });

  router.get('/workspaces', ...common, async (req, res) => {
    const visible = new Set(await guards.visibleWorkspaces(req));
    const all = bridge.metrics();
    // A workspace removed between the two reads is left out.
    const workspaces = bridge.workspaces()
      .filter((status) => visible.has(status.id) && all[status.id])
      .map((status) => view(status, metrics.sessionCount(status.id), all[status.id]));
    res.json({ workspaces });
  });

  router.get('/workspaces/:id', ...workspace, (req, res) => {
    res.json({ ...one(req.params.id), mcp: `${req.baseUrl}/workspaces/${req.params.id}/mcp` });
  });

  router.post('/workspaces/:id/start', ...workspace, async (req, res) => {
    await bridge.start(req.params.id);
    res.json(one(req.params.id));
  });

  router.post('/workspaces/:id/stop', ...workspace, async (req, res) => {
    const graceMs = integerParam(req.query, 'graceMs', MAX_GRACE_MS, undefined);
    await bridge.stop(req.params.id, graceMs === undefined ? undefined : { graceMs });
    res.json(one(req.params.id));
  });

  router.post('/workspaces/:id/restart', ...workspace, async (req, res) => {
    const graceMs = integerParam(req.query, 'graceMs', MAX_GRACE_MS, undefined);
    await bridge.restart(req.params.id, graceMs === undefined ? undefined : { graceMs });
    res.json(one(req.params.id));
  });

  router.get('/workspaces/:id/logs', ...workspace, (req, res) => {
    const lines = integerParam(req.query, 'lines', MAX_LOG_LINES, DEFAULT_LOG_LINES);
    if (req.method === 'HEAD' || req.accepts(['application/json', 'text/event-stream']) !== 'text/event-stream') {
      res.json({ id: req.params.id, lines: bridge.logs(req.params.id, { lines }) });
      return;
    }
    // A live tail: the last `lines` lines, then each new one, one event
    // each. Without ids: a reconnecting client gets the tail again.
    const stream = new SseStream(res, {}, { maxBufferedBytes: maxStreamBufferBytes }).keepAlive(eventsKeepAliveMs);
    streams.add(stream);
    const stop = bridge.watchLogs(req.params.id, (line) => stream.sendJson(JSON.stringify(line)), { lines });
    res.on('close', () => {
      stop();
      streams.delete(stream);
    });
  });

  /** The request log filters of a query: the workspace's, and what the query adds. */
  function requestFilter(req, paged) {
    const filter = { workspace: req.params.id };
    for (const name of ['method', 'name', 'outcome']) {
      const value = req.query[name];
      if (value === undefined) continue;
      if (typeof value !== 'string') {
        throw new RouterError('INVALID_REQUEST', `${name} must be given once`, { details: { parameter: name } });
      }
      filter[name] = value;
    }
    for (const name of ['since', 'until', ...(paged ? ['limit', 'cursor'] : [])]) {
      const value = integerParam(req.query, name, Number.MAX_SAFE_INTEGER, undefined);
      if (value !== undefined) filter[name] = value;
    }
    return filter;
  }

  router.get('/workspaces/:id/requests', ...workspace, async (req, res) => {
    res.json(await bridge.requests(requestFilter(req, true)));
  });

  router.get('/workspaces/:id/requests/stats', ...workspace, async (req, res) => {
    res.json({ stats: await bridge.requestStats(requestFilter(req, false)) });
  });

  router.get('/events', ...common, (req, res) => {
    const after = lastEventId(req);
    if (req.method === 'HEAD') {
      new SseStream(res).end(); // the headers alone: nothing to stream
      return;
    }
    // A client too slow to read is cut off; it resumes with Last-Event-ID.
    const stream = new SseStream(res, {}, { maxBufferedBytes: maxStreamBufferBytes }).keepAlive(eventsKeepAliveMs);
    streams.add(stream);
    // Events go out one at a time, in id order, each once, and only those of
    // workspaces the principal may reach (asked per event, so a revoked
    // authorization applies to an open stream too).
    let lastSent = after ?? 0;
    let queue = Promise.resolve();
    const deliver = async (event) => {
      if (stream.closed || event.id <= lastSent) return;
      lastSent = event.id;
      if (authorize && !(await authorize(req.auth, event.workspaceId, req))) return;
      stream.sendWithId(event.id, event);
    };
    const enqueue = (event) => {
      queue = queue.then(() => deliver(event)).catch(() => stream.end());
    };
    const unsubscribe = subscribe(enqueue);
    res.on('close', () => {
      unsubscribe();
      streams.delete(stream);
    });
    if (after !== undefined) {
      // Subscribed first, then the buffer read: an event is either in the
      // buffer or still to come live (both: sent once, by its id).
      let buffered;
      try {
        buffered = bridge.events();
      } catch {
        buffered = []; // a closed bridge
      }
      const newest = buffered.at(-1)?.id ?? 0;
      // An id beyond the newest is from an earlier bridge: replay all there is.
      if (after > newest) lastSent = 0;
      for (const event of buffered) enqueue(event);
    }
  });

  router.get('/metrics', ...common, async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.set('Content-Type', metrics.registry.contentType).send(text);
  });

  router.get('/openapi.json', ...common, (req, res) => {
    res.json(openApiDocument(req.baseUrl || '/'));
  });

  return {
    close() {
      for (const stream of streams) stream.end();
      streams.clear();
    },
  };
}
