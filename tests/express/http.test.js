// The MCP endpoint's HTTP contract (MCP 2025-06-18 and 2025-11-25, Basic /
// Transports / Streamable HTTP) and the security defaults (loopback peers
// only without authenticate, reached from a non-loopback address of this
// machine), with fetch against a real Express server and real lab workspace
// processes.
import assert from 'node:assert/strict';
import http from 'node:http';
import os from 'node:os';
import { gzipSync } from 'node:zlib';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import express from 'express';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, initialize, labDir, MCP_ACCEPT, postMcp, serve } from '../helpers.js';

const LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

describe('MCP endpoint status codes', () => {
  let bridge;
  let router;
  let limited;
  let server;
  let url;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir }, other: { dir: labDir } } });
    router = bridgeRouter(bridge, { maxBodyBytes: 10_000, allowedOrigins: ['https://app.example.com'], allowedHosts: ['mcp.example.com'] });
    limited = bridgeRouter(bridge, { maxSessions: 2, management: false, allowedHosts: false });
    server = await serve((app) => {
      app.use('/limited', limited);
      app.use(router);
    });
    url = `${server.base}/workspaces/lab/mcp`;
  });

  after(async () => {
    await server.close();
    await router.close();
    await limited.close();
    await bridge.close();
  });

  it('issues a session on initialize and answers requests on it as JSON', async () => {
    const session = await initialize(url);
    const response = await postMcp(url, LIST, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.ok((await response.json()).result.tools.length > 0);
  });

  it('answers with SSE when progress comes before the result', async () => {
    const session = await initialize(url);
    const response = await postMcp(url, {
      jsonrpc: '2.0', id: 7, method: 'tools/call',
      params: { name: 'progress', arguments: { steps: 2, delay: 0.05 }, _meta: { progressToken: 'tok' } },
    }, { 'mcp-session-id': session });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    const messages = (await response.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    assert.deepEqual(messages.map((m) => m.method ?? m.id), ['notifications/progress', 'notifications/progress', 7]);
    assert.equal(messages[0].params.progressToken, 'tok');
  });

  it('requires the session id after initialize: 400 without it, 404 unknown or ended', async () => {
    assert.equal((await postMcp(url, LIST)).status, 400);
    const unknown = await postMcp(url, LIST, { 'mcp-session-id': 'not-a-session' });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.data.code, 'SESSION_NOT_FOUND');
    const session = await initialize(url);
    const deleted = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } });
    assert.equal(deleted.status, 200);
    assert.equal((await postMcp(url, LIST, { 'mcp-session-id': session })).status, 404);
    assert.equal((await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': session } })).status, 404);
  });

  it("answers 404 for a session of another workspace", async () => {
    const session = await initialize(url);
    const response = await postMcp(`${server.base}/workspaces/other/mcp`, LIST, { 'mcp-session-id': session });
    assert.equal(response.status, 404);
  });

  it('answers 400 for an unsupported MCP-Protocol-Version', async () => {
    const session = await initialize(url);
    const response = await postMcp(url, LIST, { 'mcp-session-id': session, 'mcp-protocol-version': '1999-01-01' });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.data.code, 'UNSUPPORTED_PROTOCOL_VERSION');
  });

  it('answers 406 for a wrong Accept and 415 for a wrong Content-Type', async () => {
    assert.equal((await postMcp(url, LIST, { accept: 'application/json' })).status, 406);
    assert.equal((await postMcp(url, LIST, { accept: 'text/html' })).status, 406);
    assert.equal((await postMcp(url, 'hello', { 'content-type': 'text/plain' })).status, 415);
    const session = await initialize(url);
    const get = await fetch(url, { headers: { accept: 'application/json', 'mcp-session-id': session } });
    assert.equal(get.status, 406);
  });

  it('answers 202 for notifications and responses', async () => {
    const session = await initialize(url);
    const headers = { 'mcp-session-id': session };
    assert.equal((await postMcp(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status, 202);
    assert.equal((await postMcp(url, { jsonrpc: '2.0', id: 'x', result: {} }, headers)).status, 202);
  });

  it('answers a 2026-07-28 server/discover without its _meta envelope with 400 and -32602', async () => {
    const response = await postMcp(url, { jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} }, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'server/discover',
    });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.code, -32602);
  });

  it('answers 400 with JSON-RPC -32700 for a body that is not JSON and 413 beyond maxBodyBytes', async () => {
    const bad = await postMcp(url, '{"jsonrpc": "2.0", ');
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, -32700);
    const big = await postMcp(url, { ...LIST, params: { pad: 'x'.repeat(20_000) } });
    assert.equal(big.status, 413);
  });

  it('answers 400 with -32700 and 413 in a session too, whether the body is read as bytes or parsed', async () => {
    const session = await initialize(url);
    const headers = { 'mcp-session-id': session };
    const bad = await postMcp(url, '{"jsonrpc": "2.0", ', headers);
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, -32700);
    const big = await postMcp(url, { ...LIST, params: { pad: 'x'.repeat(20_000) } }, headers);
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.data.code, 'PAYLOAD_TOO_LARGE');
    // Chunked, without Content-Length: parsed by express.json(), same limit.
    const chunked = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
      body: new Blob([JSON.stringify({ ...LIST, params: { pad: 'x'.repeat(20_000) } })]).stream(),
      duplex: 'half',
    });
    assert.equal(chunked.status, 413);
  });

  it('answers requests the fast path leaves to the parser: gzip, UTF-16, chunked, odd ids', async () => {
    const session = await initialize(url);
    const headers = { 'mcp-session-id': session };
    const call = (id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: `t${id}` } } });
    const answer = async (response, id) => {
      assert.equal(response.status, 200);
      const body = await response.json();
      assert.deepEqual(body.id, id);
      assert.equal(body.result.content[0].text, `t${id}`);
    };
    const postBytes = (body, extra) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers, ...extra }, body });
    await answer(await postMcp(url, JSON.stringify(call('plain')), headers), 'plain');
    await answer(await postBytes(gzipSync(JSON.stringify(call('gz'))), { 'content-encoding': 'gzip' }), 'gz');
    const utf16 = Buffer.from(`\ufeff${JSON.stringify(call('u16'))}`, 'utf16le');
    await answer(await postBytes(utf16, { 'content-type': 'application/json; charset=utf-16le' }), 'u16');
    const stream = new Blob([JSON.stringify(call('chunked'))]).stream();
    await answer(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers }, body: stream, duplex: 'half' }), 'chunked');
    // Ids the core does not key (escapes, a fraction) get the parsed path, and their id back as sent.
    await answer(await postMcp(url, JSON.stringify(call('a"b')), headers), 'a"b');
    const fraction = await postMcp(url, '{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"t1.5"}}}', headers);
    await answer(fraction, 1.5);
    // A charset JSON cannot have: 415, as express.json() answers it.
    assert.equal((await postMcp(url, JSON.stringify(call('x')), { ...headers, 'content-type': 'application/json; charset=latin-9' })).status, 415);
  });

  it("cancels a request on the client's notifications/cancelled: its POST ends without a response", async () => {
    const session = await initialize(url);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const pending = postMcp(url, { jsonrpc: '2.0', id: 'slow-1', method: 'tools/call', params: { name: 'sleep', arguments: { seconds: 10, tag: 'http-cancel' } } }, headers);
    await delay(300);
    const cancel = await postMcp(url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1' } }, headers);
    assert.equal(cancel.status, 202);
    const response = await pending;
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    assert.equal((await response.text()).includes('"id":"slow-1"'), false);
    const check = { jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'cancelled', arguments: {} } };
    await eventually(async () => JSON.stringify(await (await postMcp(url, check, headers)).json()).includes('http-cancel'));
  });

  it('answers 400 for a malformed workspace id and 404 with UNKNOWN_WORKSPACE for an unknown one', async () => {
    const invalid = await postMcp(`${server.base}/workspaces/..%2Fetc/mcp`, LIST);
    assert.equal(invalid.status, 400);
    assert.equal((await invalid.json()).error.data.code, 'INVALID_WORKSPACE_ID');
    const unknown = await postMcp(`${server.base}/workspaces/nope/mcp`, LIST);
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.code, -32003);
  });

  it('answers the workspace with an error for a server request whose GET stream closed unanswered', async () => {
    const session = await initialize(url);
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const controller = new AbortController();
    const stream = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    assert.equal(stream.status, 200);
    const callTool = async (id, name, args) => {
      const response = await postMcp(url, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }, headers);
      const body = await response.json();
      assert.ok(body.result?.structuredContent, JSON.stringify(body));
      return body.result.structuredContent.result;
    };
    const before = await callTool(1, 'sampled', {});
    assert.equal(await callTool(2, 'sample_soon', { prompt: 'left unanswered' }), 'scheduled');
    // Read the GET stream until the relayed request arrives, then go away without answering.
    const reader = stream.body.getReader();
    let seen = '';
    while (!seen.includes('sampling/createMessage')) {
      const { value, done } = await reader.read();
      assert.equal(done, false, 'the GET stream ended before the server request');
      seen += Buffer.from(value).toString();
    }
    controller.abort();
    await eventually(async () => (await callTool(3, 'sampled', {})).length > before.length, 10_000);
    const answers = await callTool(4, 'sampled', {});
    assert.match(answers.at(-1), /^error: .*closed before the answer/);
  });

  it('opens one GET stream per session (409 for a second) and 405 for other methods', async () => {
    const session = await initialize(url);
    const controller = new AbortController();
    const stream = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session }, signal: controller.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type'), /^text\/event-stream/);
    const second = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': session } });
    assert.equal(second.status, 409);
    controller.abort();
    const put = await fetch(url, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.match(put.headers.get('allow'), /POST/);
  });

  it('validates Origin: 403 for a foreign one; localhost and allowedOrigins pass', async () => {
    const foreign = await postMcp(url, LIST, { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal((await foreign.json()).error.data.code, 'FORBIDDEN_ORIGIN');
    assert.equal((await fetch(`${server.base}/health`, { headers: { origin: 'https://evil.example' } })).status, 403);
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1', 'https://app.example.com']) {
      assert.equal((await fetch(`${server.base}/health`, { headers: { origin } })).status, 200, origin);
    }
  });

  it('validates Host: 403 for a foreign one (DNS rebinding); localhost and allowedHosts pass', async () => {
    // fetch() sets Host from the URL; node:http sends the Host a rebinding
    // page's browser would, over the same loopback connection.
    const get = (path, host) =>
      new Promise((resolve, reject) => {
        const { port } = new URL(server.base);
        const req = http.get({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
        req.on('error', reject);
      });
    const port = new URL(server.base).port;
    for (const host of [`rebind.example:${port}`, 'rebind.example', `mcp.example.com.rebind.example:${port}`]) {
      const refused = await get('/workspaces', host);
      assert.equal(refused.status, 403, host);
      assert.equal(JSON.parse(refused.body).error.code, 'FORBIDDEN_HOST', host);
    }
    assert.equal((await get('/workspaces/lab/logs', 'rebind.example')).status, 403);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'mcp.example.com', `MCP.example.com:${port}`]) {
      assert.equal((await get('/health', host)).status, 200, host);
    }
    // allowedHosts: false turns the check off.
    assert.notEqual((await get('/limited/workspaces/lab/mcp', 'rebind.example')).status, 403);
  });

  it('answers 503 beyond maxSessions', async () => {
    const limitedUrl = `${server.base}/limited/workspaces/lab/mcp`;
    const sessions = [await initialize(limitedUrl), await initialize(limitedUrl)];
    const response = await postMcp(limitedUrl, {
      jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
    });
    assert.equal(response.status, 503);
    assert.equal((await response.json()).error.data.code, 'TOO_MANY_SESSIONS');
    await fetch(limitedUrl, { method: 'DELETE', headers: { 'mcp-session-id': sessions[0] } });
    await initialize(limitedUrl);
    assert.equal((await fetch(`${server.base}/limited/health`)).status, 404); // management: false
  });
});

describe('authenticate and authorize', () => {
  let bridge;
  let server;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir }, secret: { dir: labDir } } });
    const tokens = { 'token-a': { name: 'a', workspaces: ['lab'] } };
    const router = bridgeRouter(bridge, {
      authenticate: (req) => tokens[(req.get('authorization') ?? '').replace(/^Bearer /, '')] ?? null,
      authorize: (principal, workspaceId) => principal.workspaces.includes(workspaceId),
    });
    server = await serve((app) => app.use(router));
  });

  after(async () => {
    await server.close();
    await bridge.close();
  });

  it('answers 401 without credentials on MCP and REST routes alike', async () => {
    const mcp = await postMcp(`${server.base}/workspaces/lab/mcp`, LIST);
    assert.equal(mcp.status, 401);
    assert.equal((await mcp.json()).error.data.code, 'UNAUTHORIZED');
    assert.match(mcp.headers.get('www-authenticate'), /Bearer/);
    const rest = await fetch(`${server.base}/workspaces`);
    assert.equal(rest.status, 401);
    assert.equal((await rest.json()).error.code, 'UNAUTHORIZED');
  });

  it('lets a principal reach only its workspaces (403 elsewhere)', async () => {
    const auth = { authorization: 'Bearer token-a' };
    await initialize(`${server.base}/workspaces/lab/mcp`, auth);
    const denied = await postMcp(`${server.base}/workspaces/secret/mcp`, LIST, auth);
    assert.equal(denied.status, 403);
    const list = await (await fetch(`${server.base}/workspaces`, { headers: auth })).json();
    assert.deepEqual(list.workspaces.map((w) => w.id), ['lab']);
    assert.equal((await fetch(`${server.base}/workspaces/secret`, { headers: auth })).status, 403);
  });
});

/**
 * A non-loopback IPv4 address of this machine: a connection to it has that
 * address, not 127.0.0.1, as its peer address, as a client on another
 * machine would have its own.
 */
function externalAddress() {
  return Object.values(os.networkInterfaces()).flat().find((a) => a.family === 'IPv4' && !a.internal)?.address;
}

describe('without authenticate, only loopback peers are served', () => {
  const address = externalAddress();
  const skip = address ? false : 'this machine has no non-loopback IPv4 address to connect from';
  let bridge;
  let server;
  let open;
  let authed;
  const warnings = [];
  const onWarning = (warning) => warnings.push(warning);

  before(async () => {
    if (skip) return;
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    process.on('warning', onWarning);
    const app = express();
    app.use('/default', bridgeRouter(bridge));
    app.use('/open', (open = bridgeRouter(bridge, { allowUnauthenticatedRemote: true })));
    app.use('/authed', (authed = bridgeRouter(bridge, { authenticate: (req) => (req.get('authorization') === 'Bearer t' ? 'me' : null) })));
    server = await new Promise((resolve) => {
      const s = app.listen(0, '0.0.0.0', () => resolve(s));
    });
  });

  after(async () => {
    if (skip) return;
    process.off('warning', onWarning);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await open.close();
    await authed.close();
    await bridge.close();
  });

  it('refuses a non-loopback peer whatever its Host says, once with a warning; serves loopback ones', { skip }, async () => {
    const port = server.address().port;
    // node:http, not fetch: fetch does not let a caller set Host.
    const request = (host, path, { method = 'GET', headers = {}, body } = {}) =>
      new Promise((resolve, reject) => {
        const req = http.request({ host, port, path, method, headers: { host: `localhost:${port}`, ...headers } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const remote = (path, options) => request(address, path, options);
    for (const route of ['/workspaces', '/workspaces/lab']) {
      const refused = await remote(`/default${route}`);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'FORBIDDEN');
      assert.equal(refused.body.error.details.peer, address);
    }
    const mcp = await remote('/default/workspaces/lab/mcp', {
      method: 'POST',
      headers: { accept: MCP_ACCEPT, 'content-type': 'application/json' },
      body: JSON.stringify(LIST),
    });
    assert.equal(mcp.status, 403);
    await eventually(() => warnings.some((w) => /only loopback peers are served/.test(w.message)));
    assert.equal(warnings.filter((w) => /only loopback peers are served/.test(w.message)).length, 1);
    // The same router serves a loopback peer.
    assert.equal((await request('127.0.0.1', '/default/workspaces')).status, 200);
    // Opted out: served; with authenticate: its answer decides.
    assert.equal((await remote('/open/workspaces')).status, 200);
    assert.equal((await remote('/authed/workspaces')).status, 401);
    assert.equal((await remote('/authed/workspaces', { headers: { authorization: 'Bearer t' } })).status, 200);
  });
});

describe('per-principal rate limits (rateLimit)', () => {
  let bridge;
  let router;
  let server;
  let url;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge, {
      authenticate: (req) => req.get('authorization')?.slice('Bearer '.length) || null,
      rateLimit: { requestsPerSecond: 5, concurrentRequests: 1 },
    });
    server = await serve((app) => app.use(router));
    url = `${server.base}/workspaces/lab/mcp`;
  });

  after(async () => {
    await server.close();
    await router.close();
    await bridge.close();
  });

  it('answers 429 with Retry-After beyond a principal\'s requests in flight; others are not held up', async () => {
    const as = (who) => ({ authorization: `Bearer ${who}` });
    const [alice, bob] = [await initialize(url, as('alice')), await initialize(url, as('bob'))];
    await delay(1100); // a new one-second window
    const call = (who, session, args) =>
      postMcp(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'sleep', arguments: args } }, { ...as(who), 'mcp-session-id': session });
    const slow = call('alice', alice, { seconds: 0.5 });
    await delay(100);
    const second = await call('alice', alice, { seconds: 0 });
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '1');
    const body = await second.json();
    assert.equal(body.error.code, -32600);
    assert.match(body.error.message, /requests in flight/);
    assert.equal((await call('bob', bob, { seconds: 0 })).status, 200, 'another principal is not held up');
    assert.equal((await slow).status, 200);
  });

  it('answers 429 with Retry-After beyond a principal\'s requests per second', async () => {
    const auth = { authorization: 'Bearer carol' };
    const session = await initialize(url, auth);
    await delay(1100);
    const statuses = [];
    let limited;
    for (let i = 0; i < 7; i += 1) {
      const response = await postMcp(url, { jsonrpc: '2.0', id: i, method: 'ping' }, { ...auth, 'mcp-session-id': session });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    assert.ok(statuses.filter((s) => s === 200).length <= 5, statuses.join());
    assert.ok(limited, `never limited: ${statuses.join()}`);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});
