// OpenTelemetry spans of the bridge's calls, through `@opentelemetry/api`.
//
// The API is an optional peer dependency: when the app has not installed it,
// or has installed no SDK, nothing here records or injects anything, and a
// call pays one `startSpan` on the API's no-op tracer (see BENCHMARKS.md,
// "Tracing").
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The API, or `null` when the app has not installed it (or it fails to load: then with a warning). */
const api = (() => {
  try {
    return require('@opentelemetry/api');
  } catch (err) {
    if (err?.code !== 'MODULE_NOT_FOUND') {
      process.emitWarning(`@opentelemetry/api failed to load; calls are not traced: ${err?.stack ?? err}`, 'FastMcpBridgeWarning');
    }
    return null;
  }
})();
const { version } = require('./package.json');
const tracer = api?.trace.getTracer('fastmcp-bridge', version);

/** The API's no-op provider, which a registered SDK replaces. */
const NOOP_PROVIDER = api && new api.ProxyTracerProvider().getDelegate();

/**
 * Whether a call made now might be traced: the app has registered an SDK,
 * or the active context carries a span (which even the no-op tracer
 * propagates). Cheap, and false without the API; `startCall` decides.
 */
export function tracesCalls() {
  if (tracer === undefined) return false;
  const provider = api.trace.getTracerProvider();
  if ((provider.getDelegate?.() ?? provider) !== NOOP_PROVIDER) return true;
  return api.trace.getSpanContext(api.context.active()) !== undefined;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The span's low-cardinality target and its attributes (OpenTelemetry semantic conventions for MCP). */
function describe(workspaceId, method, params) {
  const attributes = { 'mcp.method.name': method, 'fastmcp_bridge.workspace.id': workspaceId };
  let target;
  if (isObject(params)) {
    if (method === 'tools/call' && typeof params.name === 'string') {
      target = params.name;
      attributes['gen_ai.tool.name'] = target;
      attributes['gen_ai.operation.name'] = 'execute_tool';
    } else if (method === 'prompts/get' && typeof params.name === 'string') {
      target = params.name;
      attributes['gen_ai.prompt.name'] = target;
    } else if (typeof params.uri === 'string' && method.startsWith('resources/')) {
      attributes['mcp.resource.uri'] = params.uri;
    }
  }
  return { name: target === undefined ? method : `${method} ${target}`, attributes };
}

/**
 * Starts the span of one call. Its parent is the trace context the params'
 * own `_meta` carries (`traceparent`, `tracestate`: a client's, MCP
 * 2026-07-28, SEP-414), when valid, with the active context's span as a
 * link; else the active context (e.g. the app's span for the Express
 * request), as the OpenTelemetry semantic conventions for MCP say.
 *
 * Returns `undefined` when nothing is traced (no API, no SDK, no valid
 * context, or the app's SDK threw): the call then goes on as if this module
 * did not exist. Otherwise `{ span, params, timed, started }`: `params` with
 * what the app's propagators write (by default W3C `traceparent` /
 * `tracestate`, `baggage` when registered) merged over its `_meta`, the
 * other keys kept; params that are an array, or when the propagators write
 * nothing, are left as they are. `timed` asks the native side for the
 * call's queue wait.
 *
 * Span: kind CLIENT, named `{mcp.method.name} {target}` (the tool's or
 * prompt's name where there is one), attributes `mcp.method.name`,
 * `gen_ai.tool.name` and `gen_ai.operation.name` (`execute_tool`),
 * `gen_ai.prompt.name`, `mcp.resource.uri`, `fastmcp_bridge.workspace.id`
 * (OpenTelemetry semantic conventions for MCP, Development status).
 */
export function startCall(workspaceId, method, params) {
  if (tracer === undefined) return undefined;
  let span;
  try {
    const active = api.context.active();
    const meta = isObject(params) && isObject(params._meta) ? params._meta : undefined;
    let parent = active;
    let links;
    if (typeof meta?.traceparent === 'string') {
      const carried = api.propagation.extract(api.ROOT_CONTEXT, meta);
      if (api.trace.getSpanContext(carried) !== undefined) {
        parent = carried;
        const ambient = api.trace.getSpanContext(active);
        if (ambient !== undefined && api.isSpanContextValid(ambient)) links = [{ context: ambient }];
      }
    }
    const { name, attributes } = describe(workspaceId, method, params);
    span = tracer.startSpan(name, { kind: api.SpanKind.CLIENT, attributes, links }, parent);
    if (!api.isSpanContextValid(span.spanContext())) {
      span.end();
      return undefined;
    }
    let traced = params;
    if (params === undefined || params === null || isObject(params)) {
      const carrier = {};
      api.propagation.inject(api.trace.setSpan(parent, span), carrier);
      if (Object.keys(carrier).length > 0) traced = { ...params, _meta: { ...meta, ...carrier } };
    }
    return { span, params: traced, timed: span.isRecording(), started: performance.now() };
  } catch (err) {
    // The app's sampler, span processor or propagator threw: the call goes on untraced.
    try {
      span?.end();
    } catch {
      // nothing more to do for this span
    }
    process.emitWarning(`tracing a call failed; the call goes on untraced: ${err?.stack ?? err}`, 'FastMcpBridgeWarning');
    return undefined;
  }
}

/**
 * `fn` bound to the context of a call's span (`context.bind`): spans the
 * call's `onProgress` and `onRequest` handlers make are its children.
 * @template {Function} F
 * @param {{ span: import('@opentelemetry/api').Span }} traced
 * @param {F} fn
 * @returns {F}
 */
export function inSpan(traced, fn) {
  return api.context.bind(api.trace.setSpan(api.context.active(), traced.span), fn);
}

/**
 * Ends a call's span; never throws. `queueMs` (from the native side; absent
 * for a call that reached no workspace) and the rest of the call's time
 * become `fastmcp_bridge.queue_wait_ms` and `fastmcp_bridge.transport_ms`.
 * A failure sets the span's status to ERROR with `error.type`: for a
 * JSON-RPC error response, its code as text, also as
 * `rpc.response.status_code` (`"-32601"`); for the bridge's own errors, the
 * `BridgeError` code (`TIMEOUT`, `ABORTED`, ...). A `tools/call` result with
 * `isError: true` sets ERROR with `error.type` `tool_error`.
 * @param {{ span: import('@opentelemetry/api').Span, started: number }} traced
 * @param {{ queueMs?: number, error?: unknown, result?: unknown, method: string }} outcome
 */
export function endCall(traced, { queueMs, error, result, method }) {
  const { span } = traced;
  try {
    if (!span.isRecording()) return;
    const total = performance.now() - traced.started;
    if (Number.isFinite(queueMs)) {
      span.setAttribute('fastmcp_bridge.queue_wait_ms', queueMs);
      span.setAttribute('fastmcp_bridge.transport_ms', Math.max(0, total - queueMs));
    }
    if (error !== undefined) {
      const code = error?.code;
      if (typeof code === 'number') {
        span.setAttribute('error.type', String(code));
        span.setAttribute('rpc.response.status_code', String(code));
      } else {
        span.setAttribute('error.type', typeof code === 'string' ? code : (error?.constructor?.name ?? 'Error'));
      }
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(error?.message ?? error) });
    } else if (method === 'tools/call' && toolFailed(result)) {
      span.setAttribute('error.type', 'tool_error');
      span.setStatus({ code: api.SpanStatusCode.ERROR });
    }
  } catch (err) {
    process.emitWarning(`ending a call's span failed: ${err?.stack ?? err}`, 'FastMcpBridgeWarning');
  } finally {
    try {
      span.end();
    } catch {
      // the app's span processor threw; the call's outcome stands
    }
  }
}

/** `"isError": true` somewhere in a JSON text: parsed only then (FastMCP writes `"isError":false` on every result). */
const IS_ERROR_TRUE = /"isError"\s*:\s*true/;

function toolFailed(result) {
  if (typeof result === 'string') {
    // A raw result: parsed only to read `isError`, and only while recording.
    if (!IS_ERROR_TRUE.test(result)) return false;
    try {
      return JSON.parse(result)?.isError === true;
    } catch {
      return false;
    }
  }
  return result?.isError === true;
}
