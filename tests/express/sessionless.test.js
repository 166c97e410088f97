// What the MCP endpoint (real Express server, real lab workspace) answers a
// client of the sessionless 2026-07-28 revision, which it does not speak: a
// bounded 4xx that lets a dual-era client fall back to initialize.
//
// Every modern request gets a 4xx whose body is not one of the revision's
// own errors (UnsupportedProtocolVersion -32022,
// MissingRequiredClientCapability -32021, HeaderMismatch -32020), so that a
// dual-era client falls back to initialize (MCP 2026-07-28, Basic /
// Transports / Streamable HTTP / Backward Compatibility) and the fallback
// session works. Never a 5xx, never a hang: every request here is bounded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { labDir, MCP_ACCEPT, serve } from '../helpers.js';

const MODERN = '2026-07-28';
const MODERN_ERROR_CODES = [-32020, -32021, -32022];
/** Bound on each request (ms); the endpoint must answer within it. */
const BOUND_MS = 10_000;

/** The reserved `_meta` a 2026-07-28 request carries (Basic / _meta). */
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'modern-client', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A request shaped as the 2026-07-28 revision sends it: headers mirror the body. */
function modernRequest(url, message, headers = {}) {
  const name = message.params?.name ?? message.params?.uri;
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: MCP_ACCEPT,
      'mcp-protocol-version': MODERN,
      'mcp-method': message.method,
      ...(name === undefined ? {} : { 'mcp-name': name }),
      ...headers,
    },
    body: JSON.stringify({ ...message, params: { ...message.params, _meta: MODERN_META } }),
    signal: AbortSignal.timeout(BOUND_MS),
  });
}

/** Asserts a legacy-era rejection: 4xx, a JSON-RPC error that no 2026-07-28 client reads as modern. */
async function assertFallbackSignal(response, id) {
  assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
  const body = await response.json();
  assert.equal(body.jsonrpc, '2.0');
  assert.equal(body.id, id);
  assert.ok(Number.isInteger(body.error.code), JSON.stringify(body));
  assert.ok(!MODERN_ERROR_CODES.includes(body.error.code), JSON.stringify(body));
  return body;
}

describe('MCP endpoint and the sessionless 2026-07-28 revision', () => {
  let bridge;
  let router;
  let server;
  let url;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge);
    server = await serve((app) => app.use(router));
    url = `${server.base}/workspaces/lab/mcp`;
  });

  after(async () => {
    await server.close();
    await router.close();
    await bridge.close();
  });

  it('answers the server/discover probe with 400 and JSON-RPC -32601, then serves the fallback initialize', async () => {
    const probe = await modernRequest(url, { jsonrpc: '2.0', id: 'probe', method: 'server/discover', params: {} });
    assert.equal(probe.status, 400);
    const body = await assertFallbackSignal(probe, 'probe');
    assert.equal(body.error.code, -32601);
    assert.equal(probe.headers.get('mcp-session-id'), null);

    const init = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'dual-era', version: '1.0.0' } },
      }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    assert.equal(init.status, 200);
    assert.equal((await init.json()).result.protocolVersion, '2025-11-25');
    const session = init.headers.get('mcp-session-id');
    const call = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: MCP_ACCEPT,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'echo', method: 'tools/call', params: { name: 'echo', arguments: { text: 'fell back' } } }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    assert.equal(call.status, 200);
    assert.equal((await call.json()).result.content[0].text, 'fell back');
  });

  it('answers server/discover with 400 inside a handshake session too', async () => {
    const init = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'legacy', version: '1.0.0' } },
      }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    const session = init.headers.get('mcp-session-id');
    const probe = await modernRequest(url, { jsonrpc: '2.0', id: 9, method: 'server/discover', params: {} }, { 'mcp-session-id': session });
    assert.equal(probe.status, 400);
    assert.equal((await assertFallbackSignal(probe, 9)).error.code, -32601);
  });

  it('answers sessionless 2026-07-28 requests with 400 naming the revisions it speaks, without calling the workspace', async () => {
    const before = bridge.metrics('lab').requests;
    for (const [id, message] of [
      [1, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }],
      [2, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }],
      [3, { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'test://x' } }],
      [4, { jsonrpc: '2.0', id: 4, method: 'subscriptions/listen', params: {} }],
    ]) {
      const response = await modernRequest(url, message);
      assert.equal(response.status, 400, message.method);
      const body = await assertFallbackSignal(response, id);
      assert.equal(body.error.data.code, 'UNSUPPORTED_PROTOCOL_VERSION');
      assert.deepEqual(body.error.data.supported, ['2025-11-25', '2025-06-18', '2025-03-26']);
    }
    assert.equal(bridge.metrics('lab').requests, before);
  });

  it('answers a 2026-07-28 request without the MCP-Protocol-Version header with 400 (no session)', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: MODERN_META } }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    assert.equal(response.status, 400);
    assert.equal((await assertFallbackSignal(response, 5)).error.data.code, 'SESSION_REQUIRED');
  });

  it('answers GET and DELETE carrying MCP-Protocol-Version 2026-07-28 with 400', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(url, {
        method,
        headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN },
        signal: AbortSignal.timeout(BOUND_MS),
      });
      assert.equal(response.status, 400, method);
      assert.equal((await response.json()).error.data.code, 'UNSUPPORTED_PROTOCOL_VERSION');
    }
  });
});
