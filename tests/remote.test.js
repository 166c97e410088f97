// Remote workspaces (`{ url, headers? }`): MCP streamable HTTP endpoints the
// bridge runs no process for, against real servers on loopback: a hub
// started by hand (`python -m fastmcp_workspace`), the official TypeScript
// SDK's server, and another bridge's Express endpoint behind a bearer
// token; and the server going away and coming back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { Bridge, defaultPython } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, labDir, serve } from './helpers.js';

const WAIT_MS = 30_000;

/** A free TCP port on loopback (bound, then released). */
async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A hub started by hand on `port` (0: any), as an operator would run one
 * elsewhere: its MCP URL, its stderr lines, and stop(). It exits when this
 * process's end closes its stdin, so it never outlives the test.
 */
async function handStartedHub(dir, port = 0) {
  const child = spawn(defaultPython(), ['-m', 'fastmcp_workspace', '--dir', dir, '--port', String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the hub exited (${code}): ${stderr.join('\n')}`)));
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const ready = JSON.parse(line);
      if (ready.event === 'ready') resolve(ready.url);
    });
  });
  return {
    url,
    stderr,
    child,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

/**
 * The official TypeScript SDK's server over streamable HTTP, stateful (one
 * transport per MCP session, 404 for an unknown session id), with one tool,
 * `echo`.
 */
async function sdkServer() {
  const transports = new Map();
  const server = await serve((app) => {
    app.use(express.json());
    app.all('/mcp', async (req, res) => {
      const id = req.get('mcp-session-id');
      let transport = id === undefined ? undefined : transports.get(id);
      if (transport === undefined) {
        if (id !== undefined || req.method !== 'POST' || !isInitializeRequest(req.body)) {
          res.status(404).json({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } });
          return;
        }
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: randomUUID,
          onsessioninitialized: (sessionId) => transports.set(sessionId, transport),
        });
        transport.onclose = () => transports.delete(transport.sessionId);
        const mcp = new Server({ name: 'sdk-http', version: '1.0.0' }, { capabilities: { tools: {} } });
        mcp.setRequestHandler(ListToolsRequestSchema, () => ({
          tools: [{ name: 'echo', description: 'Echoes text.', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } }],
        }));
        mcp.setRequestHandler(CallToolRequestSchema, (request) => ({
          content: [{ type: 'text', text: `sdk: ${request.params.arguments?.text ?? ''}` }],
        }));
        await mcp.connect(transport);
      }
      await transport.handleRequest(req, res, req.body);
    });
  });
  return { url: `${server.base}/mcp`, sessions: transports, close: () => server.close() };
}

const echo = async (bridge, id, text) => {
  const result = await bridge.call(id, 'tools/call', { name: 'echo', arguments: { text } });
  return result.content[0].text;
};

describe('remote workspaces', { timeout: 180_000 }, () => {
  let hub;
  let bridge;

  before(async () => {
    hub = await handStartedHub(labDir);
    bridge = new Bridge({
      capabilities: { sampling: {} },
      workspaces: {
        remote: { url: hub.url },
        sessionless: { url: hub.url, protocol: 'sessionless' },
      },
    });
  });

  after(async () => {
    await bridge?.close();
    await hub?.kill();
  });

  it('calls a hub started by hand: results, progress, cancellation, sessions, server requests; no process of its own', async () => {
    assert.equal(await echo(bridge, 'remote', 'hi'), 'hi');
    const status = bridge.status('remote');
    assert.equal(status.state, 'ready');
    assert.equal(status.pid, null);

    const updates = [];
    const steps = await bridge.call('remote', 'tools/call', { name: 'progress', arguments: { steps: 3, delay: 0.01 } }, { onProgress: (p) => updates.push(p.progress) });
    assert.equal(steps.content[0].text, '3');
    assert.deepEqual(updates, [1, 2, 3]);

    const controller = new AbortController();
    const sleeping = bridge.call('remote', 'tools/call', { name: 'sleep_started', arguments: { seconds: 30, tag: 'remote-abort' } }, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await assert.rejects(sleeping, { code: 'ABORTED' });
    await eventually(async () => {
      const cancelled = await bridge.call('remote', 'tools/call', { name: 'cancelled', arguments: {} });
      return cancelled.structuredContent.result.includes('remote-abort');
    }, WAIT_MS);

    const session = bridge.session('remote', { clientInfo: { name: 'remote-client', version: '2.0.0' } });
    try {
      assert.equal((await session.call('tools/call', { name: 'echo', arguments: { text: 'own session' } })).content[0].text, 'own session');
    } finally {
      await session.close();
    }
    // A server request of the remote server's, answered by the call's handler.
    const sampled = await bridge.call('remote', 'tools/call', { name: 'sample', arguments: { prompt: 'far?' } }, {
      onRequest: (request) => ({ role: 'assistant', content: { type: 'text', text: `near: ${request.params.messages[0].content.text}` }, model: 'test' }),
    });
    assert.equal(sampled.content[0].text, 'near: far?');
    assert.ok(bridge.metrics('remote').requests >= 5);
  });

  it('speaks the sessionless revision to it too', async () => {
    assert.equal(await echo(bridge, 'sessionless', 'no handshake'), 'no handshake');
    assert.equal((await bridge.serverInfo('sessionless')).protocolVersion, '2026-07-28');
  });

  it('stop ends its MCP sessions on the server; start connects again', async () => {
    await echo(bridge, 'remote', 'before stop');
    const terminated = () => hub.stderr.filter((line) => line.includes('Terminating session')).length;
    const before = terminated();
    await bridge.stop('remote');
    assert.equal(bridge.status('remote').state, 'stopped');
    await eventually(() => terminated() > before, WAIT_MS);
    await bridge.start('remote');
    assert.equal(await echo(bridge, 'remote', 'after start'), 'after start');
  });

  it('refuses options of a process it does not run, https, and the transport\'s own headers', () => {
    for (const [options, says] of [
      [{ url: 'https://example.com/mcp' }, /https is not supported/],
      [{ url: 'not a url' }, /http:\/\/ URL/],
      [{ url: hub.url, dir: labDir }, /dir applies/],
      [{ url: hub.url, headers: { 'mcp-session-id': 'x' } }, /set by the transport/],
    ]) {
      assert.throws(() => bridge.addWorkspace('bad', options), (err) => err.code === 'INVALID_ARGUMENT' && says.test(err.message));
    }
  });
});

describe('remote workspaces on other servers', { timeout: 120_000 }, () => {
  it('calls the official SDK\'s server', async () => {
    const server = await sdkServer();
    const bridge = new Bridge({ workspaces: { sdk: { url: server.url } } });
    try {
      assert.equal(await echo(bridge, 'sdk', 'hello'), 'sdk: hello');
      assert.equal((await bridge.serverInfo('sdk')).serverInfo.name, 'sdk-http');
      assert.equal(server.sessions.size, 1);
      await bridge.stop('sdk');
      await eventually(() => server.sessions.size === 0, WAIT_MS);
    } finally {
      await bridge.close();
      await server.close();
    }
  });

  it('calls a workspace of another bridge through its Express endpoint, with headers', async () => {
    const other = new Bridge({ workspaces: { lab: { dir: labDir } } });
    const token = 'Bearer s3cret';
    const server = await serve((app) => app.use(bridgeRouter(other, { authenticate: (req) => (req.get('authorization') === token ? { user: 'node-a' } : null) })));
    const url = `${server.base}/workspaces/lab/mcp`;
    const bridge = new Bridge({
      workspaces: {
        relayed: { url, headers: { authorization: token } },
        refused: { url, maxRestarts: 0 },
      },
    });
    try {
      assert.equal(await echo(bridge, 'relayed', 'through two bridges'), 'through two bridges');
      const updates = [];
      await bridge.call('relayed', 'tools/call', { name: 'progress', arguments: { steps: 2, delay: 0.01 } }, { onProgress: (p) => updates.push(p.progress) });
      assert.deepEqual(updates, [1, 2]);
      // Without the token the endpoint answers 401: the start fails, clearly.
      await assert.rejects(echo(bridge, 'refused', 'x'), (err) => err.code === 'START_FAILED' && /authentication required/.test(err.message));
    } finally {
      await bridge.close();
      await server.close();
      await other.close();
    }
  });
});

describe('a remote server going away and coming back', { timeout: 180_000 }, () => {
  it('fails the calls meanwhile, reconnects by itself once it is back', async () => {
    const port = await freePort();
    let hub = await handStartedHub(labDir, port);
    const events = [];
    const bridge = new Bridge({
      // A ping to a dead port fails at once; a slow answer on a busy machine is no failure.
      workspaces: { flaky: { url: hub.url, healthIntervalMs: 200, healthTimeoutMs: 5000, maxHealthFailures: 1, maxRestarts: 1000 } },
    });
    bridge.on('event', (event) => events.push(event));
    try {
      assert.equal(await echo(bridge, 'flaky', 'up'), 'up');
      const inFlight = bridge.call('flaky', 'tools/call', { name: 'sleep_started', arguments: { seconds: 60, tag: 'x' } }, { onProgress: () => hub.kill('SIGKILL') });
      // The call in flight when the server goes away fails: its response
      // stream breaks (TRANSPORT_ERROR), or a failed ping drops the
      // connection first (WORKSPACE_CRASHED).
      await assert.rejects(inFlight, (err) => ['TRANSPORT_ERROR', 'WORKSPACE_CRASHED'].includes(err.code));
      // A failed ping reconnects it; while the server is away each attempt fails and backs off.
      await eventually(() => events.some((e) => e.type === 'health_failure'), WAIT_MS);
      await eventually(() => bridge.status('flaky').state !== 'ready', WAIT_MS);
      await assert.rejects(echo(bridge, 'flaky', 'down'), (err) => ['START_FAILED', 'TRANSPORT_ERROR', 'WORKSPACE_CRASHED', 'TIMEOUT'].includes(err.code));

      hub = await handStartedHub(labDir, port);
      await eventually(() => bridge.status('flaky').state === 'ready', WAIT_MS);
      assert.equal(await echo(bridge, 'flaky', 'back'), 'back');
      assert.ok(bridge.status('flaky').restarts >= 1);
    } finally {
      await bridge.close();
      await hub.kill();
    }
  });

  it('is failed after repeated failures to connect, with the reason', async () => {
    const port = await freePort(); // nobody listens there
    const bridge = new Bridge({ workspaces: { gone: { url: `http://127.0.0.1:${port}/mcp`, maxRestarts: 1, restartWindowMs: 600_000 } } });
    try {
      await assert.rejects(echo(bridge, 'gone', 'x'), { code: 'START_FAILED' });
      await eventually(() => bridge.status('gone').state === 'failed', WAIT_MS);
      assert.match(bridge.status('gone').lastError ?? '', /connect|refused|initialization/i);
    } finally {
      await bridge.close();
    }
  });
});
