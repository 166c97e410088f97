// OpenTelemetry spans of the bridge's calls, through `@opentelemetry/api`.
//
// The API is an optional peer dependency: when the app has not installed it,
// or has installed no SDK, nothing here records or injects anything, and a
// call pays one `startSpan` on the API's no-op tracer (see BENCHMARKS.md,
// "Tracing").
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The API, or `null` when the app has not installed it. */
const api = (() => {
  try {
    return require('@opentelemetry/api');
  } catch {
    return null;
  }
})();
const { version } = require('./package.json');
const tracer = api?.trace.getTracer('fastmcp-bridge', version);

/** The `_meta` keys W3C Trace Context uses (MCP 2026-07-28, SEP-414). */
const TRACE_KEYS = ['traceparent', 'tracestate', 'baggage'];

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
 * Starts the span of one call, a child of the active context (e.g. the
 * app's span for the Express request), or, when that holds no span, of the
 * trace context the params' own `_meta` carries (a client's). Returns
 * `undefined` when nothing is traced (no API, no SDK, no valid context):
 * the call then goes on as if this module did not exist.
 *
 * Otherwise returns `{ span, params, timed }`: `params` with the span's
 * context injected into `_meta` by the app's propagators (`traceparent`,
 * `tracestate`, `baggage`); params that are an array are left as they are.
 * `timed` asks the native side for the call's queue wait.
 *
 * Span: kind CLIENT, named `{mcp.method.name} {target}` (the tool's or
 * prompt's name where there is one), attributes `mcp.method.name`,
 * `gen_ai.tool.name` and `gen_ai.operation.name` (`execute_tool`),
 * `gen_ai.prompt.name`, `mcp.resource.uri`, `fastmcp_bridge.workspace.id`
 * (OpenTelemetry semantic conventions for MCP, Development status).
 */
export function startCall(workspaceId, method, params) {
  if (tracer === undefined) return undefined;
  let parent = api.context.active();
  if (api.trace.getSpanContext(parent) === undefined && isObject(params?._meta) && typeof params._meta.traceparent === 'string') {
    parent = api.propagation.extract(parent, params._meta);
  }
  const { name, attributes } = describe(workspaceId, method, params);
  const span = tracer.startSpan(name, { kind: api.SpanKind.CLIENT, attributes }, parent);
  if (!api.isSpanContextValid(span.spanContext())) {
    span.end();
    return undefined;
  }
  let traced = params;
  if (params === undefined || params === null || isObject(params)) {
    const meta = {};
    if (isObject(params?._meta)) {
      for (const [key, value] of Object.entries(params._meta)) if (!TRACE_KEYS.includes(key)) meta[key] = value;
    }
    api.propagation.inject(api.trace.setSpan(parent, span), meta);
    traced = { ...params, _meta: meta };
  }
  return { span, params: traced, timed: span.isRecording(), started: performance.now() };
}

/**
 * Ends a call's span: `queueMs` (from the native side) and the rest of the
 * call's time become `fastmcp_bridge.queue_wait_ms` and
 * `fastmcp_bridge.transport_ms`. A failure sets the span's status to ERROR
 * with `error.type` (the `BridgeError` code) and, for a JSON-RPC error
 * response, `rpc.response.status_code`; a `tools/call` result with
 * `isError: true` sets ERROR with `error.type` `tool_error`.
 * @param {{ span: import('@opentelemetry/api').Span, started: number }} traced
 * @param {{ queueMs?: number, error?: unknown, result?: unknown, method: string }} outcome
 */
export function endCall(traced, { queueMs, error, result, method }) {
  const { span } = traced;
  if (span.isRecording()) {
    const total = performance.now() - traced.started;
    if (Number.isFinite(queueMs)) {
      span.setAttribute('fastmcp_bridge.queue_wait_ms', queueMs);
      span.setAttribute('fastmcp_bridge.transport_ms', Math.max(0, total - queueMs));
    }
    if (error !== undefined) {
      span.setAttribute('error.type', typeof error?.code === 'string' ? error.code : 'Error');
      if (Number.isInteger(error?.rpcCode)) span.setAttribute('rpc.response.status_code', String(error.rpcCode));
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: String(error?.message ?? error) });
    } else if (method === 'tools/call' && toolFailed(result)) {
      span.setAttribute('error.type', 'tool_error');
      span.setStatus({ code: api.SpanStatusCode.ERROR });
    }
  }
  span.end();
}

function toolFailed(result) {
  if (typeof result === 'string') {
    // A raw result: parsed only to read `isError`, and only while recording.
    if (!result.includes('"isError"')) return false;
    try {
      return JSON.parse(result)?.isError === true;
    } catch {
      return false;
    }
  }
  return result?.isError === true;
}
