// Compiled by tests/types.test.js with `tsc --noEmit --strict`: the public
// typings must describe how the package is used.
import http from 'node:http';

import { Bridge, BridgeError, errorCodes, type BridgeEvent, type BridgeOptions, type CallOptions, type HubWorkspaceOptions, type IsolationOptions, type Progress, type RemoteWorkspaceOptions, type RequestOutcome, type StdioWorkspaceOptions, type WorkspaceState, type WorkspaceStatus } from 'fastmcp-bridge';
import type * as native from '../../native.js';
import { bridgeDashboard, bridgeRouter, DASHBOARD_CSP, managementRouter, statusCode, withMcpFastPath } from 'fastmcp-bridge/express';
import type { DashboardOptions } from 'fastmcp-bridge/express';
import type { RestError, WorkspaceLogs, WorkspaceView } from 'fastmcp-bridge/express';
import express from 'express';

async function main(): Promise<void> {
  const bridge = new Bridge({
    maxConcurrent: 4,
    transport: 'unix',
    maxRunning: 2,
    capabilities: { sampling: {} },
    isolation: { user: 'auto', uidBase: 300_000, memoryMb: 512, cpuPercent: 50 },
    workspaces: { alpha: { isolation: { user: 4242, pids: 64, cpuSeconds: 60 } satisfies IsolationOptions, dir: 'examples/workspaces/alpha', idleTimeoutMs: 60_000, mcpServers: { time: { command: 'python', args: ['-m', 'mcp_server_time'] } } } },
  });
  const controller = new AbortController();
  const seen: Progress[] = [];
  const result = await bridge.call<{ content: unknown[] }>('alpha', 'tools/call', { name: 'echo', arguments: { text: 'hi' } }, {
    signal: controller.signal,
    priority: 'high',
    timeoutMs: 1000,
    onProgress: (p) => seen.push(p),
    onRequest: (request) => ({ method: request.method }),
  });
  result.content.length;
  const text: string = await bridge.call('alpha', 'tools/list', undefined, { raw: true });
  text.length;
  const session = bridge.session('alpha', { clientInfo: { name: 'c', version: '1' } });
  session.on('notification', (message) => message.method);
  await session.call('tools/list');
  (await session.call('tools/list', {}, { raw: true, timeoutMs: 100 })).charAt(0);
  const forwarded = session.forward(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'), {
    mcpSession: 'client-1',
    principal: 'alice',
    onRequest: (request) => ({ method: request.method }),
  });
  if (forwarded !== null) {
    const response: string = await forwarded.response;
    response.charAt(0) + forwarded.id + forwarded.method;
    forwarded.cancel();
  }
  // @ts-expect-error a forwarded request is cancelled with cancel(), not a signal
  session.forward(new Uint8Array(0), { signal: new AbortController().signal });
  await session.close();
  bridge.onRequest('roots/list', (workspaceId, request) => ({ roots: [], workspaceId, id: request.id }));
  bridge.on('event', (event: BridgeEvent) => event.type);
  bridge.on('notification', (workspaceId: string, message) => message.method + workspaceId);
  const known: boolean = bridge.hasWorkspace('alpha');
  const status: WorkspaceStatus = bridge.status('alpha');
  const states: string[] = bridge.workspaces().map((w) => w.state);
  const lines = bridge.logs('alpha', { lines: 10 }).map((l) => l.stream);
  const p99: number = bridge.metrics('alpha').p99;
  bridge.addWorkspace('beta', { dir: 'examples/workspaces/beta' });
  bridge.addWorkspace('time', { transport: 'stdio', command: 'python', args: ['-m', 'mcp_server_time'], cwd: '.', maxConcurrent: 2 });
  // @ts-expect-error a stdio workspace needs its command
  bridge.addWorkspace('broken', { transport: 'stdio' });
  // @ts-expect-error a hub workspace needs its dir or its configuration inline
  bridge.addWorkspace('broken', { transport: 'unix' });
  bridge.addWorkspace('aggregate', { mcpServers: { time: { command: 'python', args: ['-m', 'mcp_server_time'] } } });
  bridge.addWorkspace('modern', { dir: 'examples/workspaces/beta', protocol: 'sessionless' });
  // @ts-expect-error the protocol is named, not a revision date
  bridge.addWorkspace('broken', { dir: 'examples/workspaces/beta', protocol: '2026-07-28' });
  await bridge.removeWorkspace('beta', { graceMs: 100 });
  await bridge.restart('alpha', { graceMs: 100 });
  try {
    await bridge.call('nope', 'tools/list');
  } catch (err) {
    if (err instanceof BridgeError && err.code === 'UNKNOWN_WORKSPACE') {
      const http: number = errorCodes[err.code].httpStatus;
      statusCode(err) === http;
    }
  }
  const app = express();
  const mcpRouter = bridgeRouter(bridge, { management: false });
  app.use('/api', mcpRouter);
  http.createServer(withMcpFastPath(app, mcpRouter, { prefix: '/api' }));
  const admin = managementRouter(bridge, { eventsKeepAliveMs: 15_000, authorize: () => true });
  app.use('/admin', admin);
  const dashboardOptions: DashboardOptions = { apiBase: '/admin', authorize: () => true };
  app.use('/ops', bridgeDashboard(bridge, dashboardOptions));
  app.use('/with-page', bridgeRouter(bridge, { dashboard: true }));
  app.use('/page-elsewhere', bridgeRouter(bridge, { management: false, dashboard: { apiBase: '/admin' } }));
  const csp: string = DASHBOARD_CSP;
  void csp;
  const view = (await (await fetch('http://127.0.0.1:3000/admin/workspaces/alpha')).json()) as WorkspaceView;
  const pid: number | null = view.pid;
  const logs = (await (await fetch('http://127.0.0.1:3000/admin/workspaces/alpha/logs?lines=5')).json()) as WorkspaceLogs;
  const failure = (await (await fetch('http://127.0.0.1:3000/admin/workspaces/nope')).json()) as RestError;
  void [pid, view.state satisfies WorkspaceState, logs.lines[0]?.stream, failure.error.code];
  await admin.close();
  const logged = new Bridge({ workspaces: {}, requestLog: { path: ':memory:', maxRows: 1000, captureBodies: true, redact: ['password'] } });
  await logged.call('alpha', 'tools/call', { name: 'echo', arguments: {} }, { principal: 'alice', mcpSession: 's-1' });
  const page = await logged.requests({ workspace: 'alpha', outcome: 'error', since: new Date(), limit: 10 });
  const older = await logged.requests({ cursor: page.cursor ?? undefined });
  const figures = await logged.requestStats({ method: 'tools/call' });
  void [page.entries[0]?.durationMs, page.entries[0]?.outcome satisfies RequestOutcome | undefined, older.cursor, figures[0]?.p95Ms, logged.requestLogDropped];
  await logged.close();
  // Traces from the hubs (OTLP, by the OTEL_* variables); one workspace left out.
  const traced = new Bridge({ tracing: true, workspaces: { alpha: { dir: 'alpha' }, quiet: { dir: 'quiet', tracing: false } } });
  // A remote workspace: an MCP endpoint someone else runs.
  const remote = new Bridge({ workspaces: { far: { url: 'http://10.0.0.5:8000/mcp', headers: { authorization: 'Bearer t' }, timeoutMs: 5000 } } });
  await remote.close();
  // A node of a cluster sharing its workspaces through etcd.
  const node = new Bridge({
    cluster: { etcd: { endpoints: ['http://127.0.0.1:2379'] }, node: { id: 'n1', url: 'http://10.0.0.7:3000' }, secret: 'a-secret-of-16-chars+', leaseTtlS: 10 },
    workspaces: { alpha: { dir: 'alpha' } },
  });
  await node.cluster?.ready;
  const owner: string | undefined = node.cluster?.owner('alpha');
  void [owner, node.cluster?.members()[0]?.url];
  await node.close();
  await traced.close();
  await bridge.close();
  void [status, states, lines, p99];
}

void main;

// index.d.ts builds the option types on those napi-rs generates from the
// binding's option structs (native.d.ts): it narrows them, and must neither
// drop a generated field nor add one the native side would refuse.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const sameWorkspaceFields: Equal<keyof HubWorkspaceOptions | keyof StdioWorkspaceOptions | keyof RemoteWorkspaceOptions, keyof native.WorkspaceOptions> = true;
const sameBridgeFields: Equal<Exclude<keyof BridgeOptions, 'cluster'>, keyof native.BridgeOptions> = true;
const hubFits: HubWorkspaceOptions extends native.WorkspaceOptions ? true : false = true;
const stdioFits: StdioWorkspaceOptions extends native.WorkspaceOptions ? true : false = true;
const remoteFits: RemoteWorkspaceOptions extends native.WorkspaceOptions ? true : false = true;
const callFits: Equal<Exclude<keyof CallOptions, 'signal' | 'onProgress' | 'onRequest' | 'raw'>, keyof native.NativeCallOptions> = true;
void [sameWorkspaceFields, sameBridgeFields, hubFits, stdioFits, remoteFits, callFits];
