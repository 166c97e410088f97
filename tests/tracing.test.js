// OpenTelemetry traces across the three processes: the app's span (here an
// Express request's), the bridge's CLIENT span per call, and the hub's
// FastMCP span, which the hub exports over OTLP/HTTP to a receiver this
// test runs (tests/fixtures/otlp_receiver.py). Real SDKs on both sides: the
// Node SDK with an in-memory exporter, the Python SDK with its OTLP exporter.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Bridge, defaultPython } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, labDir, repoDir, serve } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = trace.getTracer('tracing-test');

/** The OTLP receiver: its port and the spans it printed so far. */
async function startReceiver() {
  const child = spawn(defaultPython(), [path.join(repoDir, 'tests', 'fixtures', 'otlp_receiver.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const spans = [];
  const lines = readline.createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the OTLP receiver exited (${code})`)));
    lines.on('line', (line) => {
      const listening = /^listening (\d+)$/.exec(line);
      if (listening) resolve(Number(listening[1]));
      else spans.push(JSON.parse(line));
    });
  });
  return {
    port,
    spans,
    async close() {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** The finished bridge spans of the in-memory exporter named `name`. */
function bridgeSpans(name) {
  return exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'fastmcp-bridge' && span.name === name);
}

describe('tracing', { timeout: 120_000 }, () => {
  let receiver;
  let bridge;
  /** The OTEL_ variables of the environment the tests run in, put back after. */
  const ambient = Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_'));

  before(async () => {
    for (const [name] of ambient) delete process.env[name];
    provider.register();
    receiver = await startReceiver();
    // Passed on to the traced hub by the `tracing` option: the exporter
    // appends /v1/traces to the generic endpoint.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${receiver.port}`;
    bridge = new Bridge({
      tracing: true,
      workspaces: {
        lab: { dir: labDir, env: { OTEL_SERVICE_NAME: 'lab-hub', OTEL_BSP_SCHEDULE_DELAY: '50' } },
        plain: { dir: labDir, tracing: false },
      },
    });
  });

  after(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    for (const [name, value] of ambient) process.env[name] = value;
    await bridge?.close();
    await receiver?.close();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('makes a CLIENT span per call, injects its context into params._meta, and the hub traces the tool as its child', async () => {
    exporter.reset();
    const { parent, result } = await tracer.startActiveSpan('app work', async (parent) => {
      const result = await bridge.call('lab', 'tools/call', { name: 'trace_context', arguments: {} });
      parent.end();
      return { parent, result };
    });
    const [span] = bridgeSpans('tools/call trace_context');
    assert.ok(span, 'the bridge made no span for the call');
    const { traceId, spanId } = span.spanContext();
    assert.equal(span.kind, SpanKind.CLIENT);
    assert.equal(traceId, parent.spanContext().traceId);
    assert.equal(span.parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.equal(span.attributes['mcp.method.name'], 'tools/call');
    assert.equal(span.attributes['gen_ai.tool.name'], 'trace_context');
    assert.equal(span.attributes['gen_ai.operation.name'], 'execute_tool');
    assert.equal(span.attributes['fastmcp_bridge.workspace.id'], 'lab');
    assert.ok(span.attributes['fastmcp_bridge.queue_wait_ms'] >= 0, 'no queue wait attribute');
    assert.ok(span.attributes['fastmcp_bridge.transport_ms'] >= 0, 'no transport time attribute');
    assert.equal(span.status.code, SpanStatusCode.UNSET);

    // What the server received, and the span its tool ran in.
    const seen = result.structuredContent;
    assert.equal(seen.meta.traceparent, `00-${traceId}-${spanId}-01`);
    assert.equal(seen.traceId, traceId, 'the tool did not run in the call\'s trace');
    assert.notEqual(seen.spanId, spanId);

    // The hub exported FastMCP's SERVER span, a child of the bridge's span.
    const childOfBridge = (s) => s.traceId === traceId && s.parentSpanId === spanId;
    await eventually(() => receiver.spans.some(childOfBridge), 10_000);
    const server = receiver.spans.find(childOfBridge);
    assert.equal(server.service, 'lab-hub');
    assert.equal(server.attributes['mcp.method.name'], 'tools/call');
    assert.equal(server.kind, 2, 'SPAN_KIND_SERVER');
    assert.match(server.name, /trace_context/);
  });

  it('runs the call\'s handlers in its span: their spans are its children', async () => {
    exporter.reset();
    await tracer.startActiveSpan('app work', async (parent) => {
      await bridge.call('lab', 'tools/call', { name: 'progress', arguments: { steps: 1, delay: 0 } }, {
        onProgress: () => tracer.startSpan('handling progress').end(),
      });
      parent.end();
    });
    const [call] = bridgeSpans('tools/call progress');
    const handled = exporter.getFinishedSpans().find((s) => s.name === 'handling progress');
    assert.ok(handled, 'the handler made no span');
    assert.equal(handled.parentSpanContext?.spanId, call.spanContext().spanId);
  });

  it('traces calls of a further MCP session too', async () => {
    exporter.reset();
    const session = bridge.session('lab');
    try {
      await tracer.startActiveSpan('app work', async (parent) => {
        await session.call('tools/call', { name: 'echo', arguments: { text: 'hi' } });
        parent.end();
      });
    } finally {
      await session.close();
    }
    const [span] = bridgeSpans('tools/call echo');
    assert.ok(span, 'no span for the session call');
    assert.equal(span.attributes['fastmcp_bridge.workspace.id'], 'lab');
  });

  it('parents the span to the trace context of the params\' own _meta, linking the active span', async () => {
    exporter.reset();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const clientSpanId = 'b7ad6b7169203331';
    const params = {
      name: 'trace_context',
      arguments: {},
      _meta: { traceparent: `00-${traceId}-${clientSpanId}-01`, tracestate: 'vendor=1', other: 'kept' },
    };
    const { ambient, result } = await tracer.startActiveSpan('app work', async (ambient) => {
      const result = await bridge.call('plain', 'tools/call', params);
      ambient.end();
      return { ambient, result };
    });
    const [span] = bridgeSpans('tools/call trace_context');
    assert.equal(span.spanContext().traceId, traceId);
    assert.equal(span.parentSpanContext?.spanId, clientSpanId);
    assert.deepEqual(span.links.map((link) => link.context.spanId), [ambient.spanContext().spanId]);
    // The context sent on is the bridge span's, with the client's trace
    // state; the other _meta keys are kept, and the caller's params untouched.
    assert.deepEqual(result.structuredContent.meta, {
      traceparent: `00-${traceId}-${span.spanContext().spanId}-01`,
      tracestate: 'vendor=1',
      other: 'kept',
    });
    assert.equal(params._meta.traceparent, `00-${traceId}-${clientSpanId}-01`);
    // The hub of `plain` was not asked for traces: FastMCP's telemetry is off.
    assert.equal(result.structuredContent.traceId, null);
  });

  it('marks failures: a JSON-RPC error, the bridge\'s own errors and a tool error', async () => {
    exporter.reset();
    await tracer.startActiveSpan('app work', async (parent) => {
      await assert.rejects(bridge.call('lab', 'no/such/method'), { rpcCode: -32601 });
      await assert.rejects(
        bridge.call('lab', 'tools/call', { name: 'sleep', arguments: { seconds: 5 } }, { timeoutMs: 100 }),
        { code: 'TIMEOUT' },
      );
      await assert.rejects(bridge.call('nope', 'tools/list'), { code: 'UNKNOWN_WORKSPACE' });
      const failed = await bridge.call('lab', 'tools/call', { name: 'no_such_tool', arguments: {} });
      assert.equal(failed.isError, true);
      parent.end();
    });
    const [rpc] = bridgeSpans('no/such/method');
    assert.equal(rpc.status.code, SpanStatusCode.ERROR);
    assert.equal(rpc.attributes['error.type'], '-32601');
    assert.equal(rpc.attributes['rpc.response.status_code'], '-32601');
    const [timeout] = bridgeSpans('tools/call sleep');
    assert.equal(timeout.status.code, SpanStatusCode.ERROR);
    assert.equal(timeout.attributes['error.type'], 'TIMEOUT');
    assert.equal(timeout.attributes['rpc.response.status_code'], undefined, 'no response came');
    const [unknown] = bridgeSpans('tools/list');
    assert.equal(unknown.attributes['error.type'], 'UNKNOWN_WORKSPACE');
    // It reached no workspace: no queue wait to tell.
    assert.equal(unknown.attributes['fastmcp_bridge.queue_wait_ms'], undefined);
    const [tool] = bridgeSpans('tools/call no_such_tool');
    assert.equal(tool.status.code, SpanStatusCode.ERROR);
    assert.equal(tool.attributes['error.type'], 'tool_error');
  });

  it('exports the spans still batched when the workspace stops gracefully', async () => {
    // A schedule delay longer than the test: only the stop's flush exports.
    bridge.addWorkspace('slow', { dir: labDir, env: { OTEL_BSP_SCHEDULE_DELAY: '600000' } });
    try {
      const traceId = await tracer.startActiveSpan('app work', async (parent) => {
        await bridge.call('slow', 'tools/call', { name: 'echo', arguments: { text: 'batched' } });
        parent.end();
        return parent.spanContext().traceId;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(!receiver.spans.some((s) => s.traceId === traceId), 'exported before the stop');
      await bridge.stop('slow');
      await eventually(() => receiver.spans.some((s) => s.traceId === traceId), 10_000);
    } finally {
      await bridge.removeWorkspace('slow');
    }
  });

  it('carries one trace id from the Express request to the tool\'s span', async () => {
    exporter.reset();
    // The app's span for each request, made as HTTP instrumentation makes
    // it: from the request's `traceparent` header, active while Express
    // routes the request.
    const server = await serve((app) => {
      app.use((req, res, next) => {
        const incoming = propagation.extract(ROOT_CONTEXT, req.headers);
        const span = tracer.startSpan(`${req.method} ${req.path}`, { kind: SpanKind.SERVER }, incoming);
        res.on('close', () => span.end());
        context.with(trace.setSpan(incoming, span), next);
      });
      app.use(bridgeRouter(bridge));
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const client = new Client({ name: 'tracing-test', version: '1.0.0' });
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${server.base}/workspaces/lab/mcp`), {
          requestInit: { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } },
        }),
      );
      const result = await client.callTool({ name: 'trace_context', arguments: {} });
      assert.equal(result.structuredContent.traceId, traceId, 'the tool ran in another trace');
    } finally {
      await client.close();
      await server.close();
    }
    const [span] = bridgeSpans('tools/call trace_context');
    assert.equal(span.spanContext().traceId, traceId);
    const express = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);
    assert.ok(express, 'the bridge span is not a child of the Express request span');
    assert.equal(express.kind, SpanKind.SERVER);
    await eventually(() => receiver.spans.some((s) => s.traceId === traceId && s.parentSpanId === span.spanContext().spanId), 10_000);
  });
});

describe('tracing without an OpenTelemetry SDK', { timeout: 60_000 }, () => {
  it('leaves the params as they are', async () => {
    // A process of its own: this file's SDK is registered globally.
    const script = `
      import { Bridge } from 'fastmcp-bridge';
      const bridge = new Bridge({ workspaces: { lab: { dir: ${JSON.stringify(labDir)} } } });
      try {
        const result = await bridge.call('lab', 'tools/call', { name: 'trace_context', arguments: {}, _meta: { other: 1 } });
        console.log(JSON.stringify(result.structuredContent));
      } finally {
        await bridge.close();
      }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: repoDir });
    assert.deepEqual(JSON.parse(stdout), { meta: { other: 1 }, traceId: null, spanId: null });
  });
});
