// withMcpFastPath: the MCP endpoint's POSTs in a session served before
// Express, everything else handed to the app; and the router behind an
// app-level JSON parser. Real lab workspaces, a real node:http server, the
// official SDK client and plain fetch.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import express from 'express';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter, withMcpFastPath } from 'fastmcp-bridge/express';

import { initialize, labDir, MCP_ACCEPT, postMcp, serve } from '../helpers.js';

const TOKEN = 'secret-token';

async function listen(listener) {
  const server = http.createServer(listener);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const echo = (id, text) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });

describe('withMcpFastPath', () => {
  let bridge;
  let router;
  let limited;
  let server;
  /** Requests the app saw, by `METHOD path`; requests the server got; `authenticate` calls. */
  let seen;
  let requests;
  let authentications;

  before(async () => {
    bridge = new Bridge({ capabilities: { sampling: {} }, workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge, {
      // An Express request, on the fast path too: req.get and req.ip.
      authenticate: (req) => {
        authentications += 1;
        return req.get('authorization') === `Bearer ${TOKEN}` && req.ip === '127.0.0.1' ? 'alice' : null;
      },
    });
    limited = bridgeRouter(bridge, { rateLimit: { concurrentRequests: 8 }, management: false });
    const app = express();
    app.use((req, _res, next) => {
      seen.push(`${req.method} ${req.originalUrl}`);
      next();
    });
    app.use('/api', router);
    app.use('/limited', limited);
    const listener = withMcpFastPath(app, router, { prefix: '/api' });
    server = await listen((req, res) => {
      requests += 1;
      listener(req, res);
    });
  });

  after(async () => {
    await server.close();
    await router.close();
    await limited.close();
    await bridge.close();
  });

  it('serves the calls of an MCP session itself; initialize, progress and the rest reach the app', async () => {
    seen = [];
    requests = 0;
    authentications = 0;
    const client = new Client({ name: 'fast-path-test', version: '0' });
    const url = new URL(`${server.base}/api/workspaces/lab/mcp`);
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    try {
      // POSTs only: the client opens its GET stream when it likes.
      const posts = () => seen.filter((line) => line.startsWith('POST'));
      const before = posts().length;
      const result = await client.callTool({ name: 'echo', arguments: { text: 'through the front door' } });
      assert.equal(result.content[0].text, 'through the front door');
      const tools = await client.listTools();
      assert.ok(tools.tools.some((tool) => tool.name === 'echo'));
      // Neither call reached the app's middleware.
      assert.deepEqual(posts().slice(before), []);

      const steps = [];
      const progress = await client.callTool({ name: 'progress', arguments: { steps: 3, delay: 0.01 } }, undefined, { onprogress: (p) => steps.push(p.progress) });
      assert.equal(progress.isError, false);
      assert.deepEqual(steps, [1, 2, 3]);
      // A progress token is the parsed path's: the front door read and checked it, the app answered.
      assert.deepEqual(posts().slice(before), ['POST /api/workspaces/lab/mcp']);
    } finally {
      await client.close();
    }
    // Once per request, whoever served it: a request the front door read
    // and handed on is not authenticated again.
    assert.ok(requests > seen.length);
    assert.equal(authentications, requests);
  });

  it("answers the router's errors itself, as the router does", async () => {
    const url = `${server.base}/api/workspaces/lab/mcp`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const session = await initialize(url, auth);
    seen = [];
    const unauthorized = await postMcp(url, echo(1, 'x'), { 'mcp-session-id': session });
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await unauthorized.json()).error.data.code, 'UNAUTHORIZED');

    const big = await postMcp(url, echo(2, 'x'.repeat(5 * 1024 * 1024)), { ...auth, 'mcp-session-id': session });
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.data.code, 'PAYLOAD_TOO_LARGE');

    const notJson = await postMcp(url, '{"jsonrpc":', { ...auth, 'mcp-session-id': session });
    assert.equal(notJson.status, 400);
    assert.equal((await notJson.json()).error.code, -32700);

    const unknown = await postMcp(`${server.base}/api/workspaces/nope/mcp`, echo(3, 'x'), { ...auth, 'mcp-session-id': session });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.data.workspace, 'nope');
    assert.deepEqual(seen, []);

    // An ended session: the front door hands it on, and the app answers 404.
    const ended = await postMcp(url, echo(4, 'x'), { ...auth, 'mcp-session-id': 'no-such-session' });
    assert.equal(ended.status, 404);
    assert.equal((await ended.json()).error.data.code, 'SESSION_NOT_FOUND');
    assert.deepEqual(seen, ['POST /api/workspaces/lab/mcp']);
  });

  it('hands every request to the app for a router with rateLimit, and other paths and methods', async () => {
    const url = `${server.base}/limited/workspaces/lab/mcp`;
    const session = await initialize(url);
    seen = [];
    const response = await postMcp(url, echo(5, 'limited'), { 'mcp-session-id': session });
    assert.equal((await response.json()).result.content[0].text, 'limited');
    const health = await fetch(`${server.base}/api/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(health.status, 200);
    assert.deepEqual(seen, ['POST /limited/workspaces/lab/mcp', 'GET /api/health']);
  });

  it("runs a router's guards on a request another router's front door handed on", async () => {
    // The front door is given `open` with the wrong prefix ('' where it is
    // mounted at /open): requests for `strict`'s endpoint match it.
    const open = bridgeRouter(bridge, { management: false });
    const strict = bridgeRouter(bridge, { management: false, authenticate: (req) => (req.get('authorization') === `Bearer ${TOKEN}` ? 'bob' : null) });
    const app = express();
    app.use('/open', open);
    app.use(strict);
    const misconfigured = await listen(withMcpFastPath(app, open));
    try {
      const url = `${misconfigured.base}/workspaces/lab/mcp`;
      const session = await initialize(url, { authorization: `Bearer ${TOKEN}` });
      // A progress token: `open` reads it, finds no session of its own and hands it on.
      const call = { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' }, _meta: { progressToken: 't' } } };
      const response = await postMcp(url, call, { 'mcp-session-id': session });
      assert.equal(response.status, 401);
      const allowed = await postMcp(url, call, { 'mcp-session-id': session, authorization: `Bearer ${TOKEN}` });
      assert.equal(allowed.status, 200);
      assert.match(await allowed.text(), /"id":9,"result"/);
    } finally {
      await misconfigured.close();
      await open.close();
      await strict.close();
    }
  });

  it('refuses what is not an app, a bridgeRouter or a prefix', () => {
    const app = express();
    assert.throws(() => withMcpFastPath({}, router), TypeError);
    assert.throws(() => withMcpFastPath(app, express.Router()), TypeError);
    assert.throws(() => withMcpFastPath(app, router, { prefix: 'api' }), TypeError);
    assert.throws(() => withMcpFastPath(app, router, { prefix: '/api/' }), TypeError);
    assert.throws(() => withMcpFastPath(app, router, { mount: '/api' }), TypeError);
  });
});

describe('the MCP endpoint behind an app-level JSON parser', () => {
  let bridge;
  let router;
  let server;
  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge);
    server = await serve((app) => {
      app.use(express.json());
      app.use(router);
    });
  });
  after(async () => {
    await server.close();
    await router.close();
    await bridge.close();
  });

  it('takes the body the app parsed', async () => {
    const url = `${server.base}/workspaces/lab/mcp`;
    const session = await initialize(url);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, 'mcp-session-id': session },
      body: JSON.stringify(echo(6, 'parsed by the app')),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal((await response.json()).result.content[0].text, 'parsed by the app');
  });
});
