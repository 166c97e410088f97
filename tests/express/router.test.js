// bridgeRouter in a real Express app on loopback, against a real example
// workspace with the official TS SDK client: the MCP exchange, its HTTP error
// answers, the factory's option checks and the error-to-status mapping.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import express from 'express';
import { Bridge, BridgeError, errorCodes } from 'fastmcp-bridge';
import { bridgeRouter, managementRouter, statusCode } from 'fastmcp-bridge/express';

import { workspacesDir } from '../helpers.js';

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('bridgeRouter with a real workspace and the official MCP client', () => {
  let bridge;
  let server;
  let base;

  before(async () => {
    bridge = new Bridge({ workspaces: { alpha: { dir: path.join(workspacesDir, 'alpha') } } });
    const app = express();
    app.use('/mcp-apps', bridgeRouter(bridge));
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${server.address().port}/mcp-apps`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await bridge.close();
  });

  it('lets the SDK client initialize, list tools and call a tool', async () => {
    const client = new Client({ name: 'router-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/workspaces/alpha/mcp`)));
    try {
      assert.equal(client.getServerVersion().name, 'alpha');
      assert.ok(client.getServerCapabilities().tools);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['add', 'echo', 'time_convert_time', 'time_get_current_time']);
      const result = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
      assert.deepEqual(result.structuredContent, { result: 42 });
    } finally {
      await client.close();
    }
  });

  it('passes a server JSON-RPC error to the SDK client with its code', async () => {
    const client = new Client({ name: 'router-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/workspaces/alpha/mcp`)));
    try {
      await assert.rejects(client.request({ method: 'no/such/method', params: {} }, undefined), { code: -32601 });
    } finally {
      await client.close();
    }
  });

  it('answers 404 with a JSON-RPC UNKNOWN_WORKSPACE error for an unknown workspace', async () => {
    const response = await fetch(`${base}/workspaces/nope/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.error.code, errorCodes.UNKNOWN_WORKSPACE.code);
  });

  it('answers 400 with JSON-RPC error -32700 for a body that is not JSON', async () => {
    const response = await fetch(`${base}/workspaces/alpha/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    assert.equal(response.status, 400);
    assert.deepEqual((await response.json()).error.code, -32700);
  });

  it('requires the MCP session id after initialize: 400 without, 404 unknown', async () => {
    const message = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const missing = await fetch(`${base}/workspaces/alpha/mcp`, { method: 'POST', headers: MCP_HEADERS, body: message });
    assert.equal(missing.status, 400);
    const unknown = await fetch(`${base}/workspaces/alpha/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': 'not-a-session' },
      body: message,
    });
    assert.equal(unknown.status, 404);
  });

  it('answers 415 for a body that is not application/json', async () => {
    const response = await fetch(`${base}/workspaces/alpha/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: MCP_HEADERS.accept },
      body: 'hello',
    });
    assert.equal(response.status, 415);
  });

  it('answers server/discover without MCP-Protocol-Version with a quick 4xx, as a handshake-era server does', async () => {
    const response = await fetch(`${base}/workspaces/alpha/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} }),
    });
    assert.equal(response.status, 400);
  });
});

describe('bridgeRouter options and status mapping', () => {
  it('throws with a fix hint when not given a Bridge', () => {
    assert.throws(() => bridgeRouter({}), TypeError);
    assert.throws(() => bridgeRouter(undefined), /new Bridge/);
  });

  it('throws on unknown options', () => {
    const bridge = new Bridge({ workspaces: {} });
    assert.throws(() => bridgeRouter(bridge, { maxBody: 1 }), TypeError);
    assert.throws(() => bridgeRouter(bridge, { maxBodyBytes: -1 }), TypeError);
    assert.throws(() => bridgeRouter(bridge, { maxStreamBufferBytes: 0 }), /maxStreamBufferBytes must be a positive integer/);
    assert.throws(() => managementRouter(bridge, { maxStreamBufferBytes: 1.5 }), /maxStreamBufferBytes must be a positive integer/);
    assert.throws(() => bridgeRouter(bridge, { allowedHosts: 'mcp.example.com' }), /allowedHosts must be an array/);
    assert.throws(() => bridgeRouter(bridge, { allowedHosts: ['https://mcp.example.com/'] }), /is not a host/);
    assert.throws(() => bridgeRouter(bridge, { allowedHosts: [''] }), /is not a host/);
    assert.throws(() => bridgeRouter(bridge, { rateLimit: { requestsPerSecond: 0 } }), /rateLimit.requestsPerSecond must be a positive integer/);
    assert.throws(() => bridgeRouter(bridge, { rateLimit: { perSecond: 5 } }), /rateLimit: unknown option "perSecond"/);
    assert.throws(() => bridgeRouter(bridge, { rateLimit: { key: 'tenant' } }), /rateLimit.key must be a function/);
    assert.throws(() => managementRouter(bridge, { rateLimit: {} }), /unknown option "rateLimit"/);
  });

  it('maps every registry code to its HTTP status and other errors sensibly', () => {
    for (const [name, { httpStatus }] of Object.entries(errorCodes)) {
      assert.equal(statusCode(new BridgeError(name, 'x')), httpStatus);
    }
    assert.equal(statusCode(new BridgeError(-32601, 'server said no')), 502);
    assert.equal(statusCode(Object.assign(new Error('x'), { status: 418 })), 418);
    assert.equal(statusCode(new Error('x')), 500);
  });
});
