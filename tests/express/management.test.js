// The REST management routes, on a real Express server with real lab
// workspace processes: workspaces, health, Prometheus metrics, the OpenAPI
// document, and the factories' option checks.
//
// The metrics are read by a real exposition-format parser and the OpenAPI
// document is checked by a real validator.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import SwaggerParser from '@apidevtools/swagger-parser';
import { Bridge, BridgeError, errorCodes } from 'fastmcp-bridge';
import { bridgeRouter, managementRouter, RouterError, routerErrorCodes, statusCode } from 'fastmcp-bridge/express';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { initialize, isAlive, labDir, postMcp, serve } from '../helpers.js';

const METRIC_KEYS = ['requests', 'ok', 'errors', 'timeouts', 'aborted', 'rejected', 'inFlight', 'queued', 'p50', 'p90', 'p99', 'max'];

describe('management routes', () => {
  let bridge;
  let router;
  let server;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir }, idle: { dir: labDir } } });
    router = bridgeRouter(bridge, { management: false });
    server = await serve((app) => {
      app.use('/api', router);
      app.use('/admin', managementRouter(bridge));
    });
    const url = `${server.base}/api/workspaces/lab/mcp`;
    const session = await initialize(url);
    const response = await postMcp(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': session });
    assert.equal(response.status, 200);
  });

  after(async () => {
    await server.close();
    await router.close();
    await bridge.close();
  });

  it('lists workspaces with their supervision state, sessions and metrics', async () => {
    const response = await fetch(`${server.base}/admin/workspaces`);
    assert.equal(response.status, 200);
    const { workspaces } = await response.json();
    assert.deepEqual(workspaces.map((w) => w.id), ['idle', 'lab']);
    const lab = workspaces.find((w) => w.id === 'lab');
    assert.equal(lab.sessions, 1);
    assert.deepEqual(Object.keys(lab.metrics).sort(), [...METRIC_KEYS].sort());
    assert.ok(lab.metrics.requests >= 1);
    assert.equal(lab.state, 'ready');
    assert.equal(lab.pid, bridge.status('lab').pid);
    assert.ok(isAlive(lab.pid));
    assert.equal(lab.restarts, 0);
    const idle = workspaces.find((w) => w.id === 'idle');
    assert.deepEqual(
      { state: idle.state, pid: idle.pid, startedAt: idle.startedAt, restarts: idle.restarts, lastExit: idle.lastExit },
      { state: 'stopped', pid: null, startedAt: null, restarts: 0, lastExit: null },
    );
  });

  it('shows one workspace, 404 for an unknown one and 400 for a malformed id, as REST errors', async () => {
    const lab = await (await fetch(`${server.base}/admin/workspaces/lab`)).json();
    assert.equal(lab.id, 'lab');
    assert.equal(lab.mcp, '/admin/workspaces/lab/mcp');
    const unknown = await fetch(`${server.base}/admin/workspaces/nope`);
    assert.equal(unknown.status, 404);
    const body = await unknown.json();
    assert.equal(body.error.code, 'UNKNOWN_WORKSPACE');
    assert.ok('details' in body.error);
    const invalid = await fetch(`${server.base}/admin/workspaces/-bad.id`);
    assert.equal(invalid.status, 400);
    assert.equal((await invalid.json()).error.code, 'INVALID_WORKSPACE_ID');
  });

  it('answers /health', async () => {
    const response = await fetch(`${server.base}/admin/health`);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.workspaces, 2);
  });

  it('serves Prometheus metrics that a real parser reads', async () => {
    const response = await fetch(`${server.base}/admin/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const families = Object.fromEntries(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    const requests = families.fastmcp_bridge_requests_total;
    assert.equal(requests.type, 'COUNTER');
    assert.ok(Number(requests.metrics.find((m) => m.labels.workspace === 'lab').value) >= 1);
    assert.equal(families.fastmcp_bridge_queued.type, 'GAUGE');
    assert.equal(families.fastmcp_bridge_in_flight.type, 'GAUGE');
    assert.equal(families.fastmcp_bridge_mcp_sessions.metrics.find((m) => m.labels.workspace === 'lab').value, '1');
    const duration = families.fastmcp_bridge_mcp_request_duration_seconds;
    assert.equal(duration.type, 'HISTOGRAM');
    assert.ok('+Inf' in duration.metrics[0].buckets);
    // The parser merges the buckets of labelled histograms into one sample,
    // so the per-label count is read from its exposition line.
    assert.match(text, /^fastmcp_bridge_mcp_request_duration_seconds_count\{workspace="lab",method="tools\/list",outcome="ok"\} 1$/m);
  });

  it('serves an OpenAPI document that a real validator accepts', async () => {
    const response = await fetch(`${server.base}/admin/openapi.json`);
    assert.equal(response.status, 200);
    const document = await response.json();
    await SwaggerParser.validate(structuredClone(document));
    assert.equal(document.servers[0].url, '/admin');
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/events', '/health', '/metrics', '/openapi.json', '/workspaces', '/workspaces/{id}',
      '/workspaces/{id}/logs', '/workspaces/{id}/requests', '/workspaces/{id}/requests/stats',
      '/workspaces/{id}/restart', '/workspaces/{id}/start', '/workspaces/{id}/stop',
    ]);
    assert.deepEqual(
      ['start', 'stop', 'restart'].map((action) => Object.keys(document.paths[`/workspaces/{id}/${action}`])),
      [['post'], ['post'], ['post']],
    );
    assert.ok('text/event-stream' in document.paths['/events'].get.responses[200].content);
    const workspace = document.components.schemas.Workspace;
    for (const field of ['state', 'pid', 'restarts']) assert.ok(workspace.required.includes(field), field);
  });
});

describe('router factories and status mapping', () => {
  it('throw with a fix hint when not given a Bridge', () => {
    assert.throws(() => bridgeRouter({}), TypeError);
    assert.throws(() => bridgeRouter(undefined), /new Bridge/);
    assert.throws(() => managementRouter(null), /new Bridge/);
  });

  it('check options at creation', () => {
    const bridge = new Bridge({ workspaces: {} });
    for (const options of [
      { maxBody: 1 },
      { maxBodyBytes: -1 },
      { maxSessions: 0 },
      { sessionIdleMs: 1.5 },
      { authenticate: 'token' },
      { authorize: true },
      { management: 'no' },
      { eventsKeepAliveMs: 0 },
      { allowedOrigins: 'https://a.example' },
      { allowedOrigins: ['not an origin'] },
      { allowedOrigins: ['https://a.example/path'] },
    ]) {
      assert.throws(() => bridgeRouter(bridge, options), TypeError, JSON.stringify(options));
    }
    assert.throws(() => managementRouter(bridge, { maxSessions: 1 }), TypeError);
    assert.throws(() => managementRouter(bridge, { eventsKeepAliveMs: -5 }), TypeError);
    managementRouter(bridge, { eventsKeepAliveMs: 1000 }).close();
    bridgeRouter(bridge, { allowedOrigins: ['https://a.example'], authenticate: () => ({}), management: false }).close();
  });

  it('maps every error to one HTTP status', () => {
    for (const [name, { httpStatus }] of Object.entries(errorCodes)) {
      assert.equal(statusCode(new BridgeError(name, 'x')), httpStatus);
    }
    for (const [name, { httpStatus }] of Object.entries(routerErrorCodes)) {
      assert.equal(statusCode(new RouterError(name, 'x')), httpStatus);
    }
    assert.equal(statusCode(new BridgeError(-32601, 'server said no')), 502);
    assert.equal(statusCode(Object.assign(new Error('x'), { status: 418 })), 418);
    assert.equal(statusCode(new Error('x')), 500);
  });
});
