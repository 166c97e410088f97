// The MCP endpoint end to end: the official TS SDK client, through a real
// Express server on loopback, against a real lab workspace process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, hubPids, labDir, labWorkspace, serve } from '../helpers.js';

function text(result) {
  assert.equal(result.isError, false, JSON.stringify(result));
  return result.content[0].text;
}

describe('MCP endpoint with the official SDK client', () => {
  let bridge;
  let router;
  let server;
  let endpoint;
  const clients = [];

  async function connect(name = 'mcp-test', capabilities = {}) {
    const client = new Client({ name, version: '1.0.0' }, { capabilities });
    await client.connect(new StreamableHTTPClientTransport(endpoint));
    clients.push(client);
    return client;
  }

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge);
    server = await serve((app) => app.use('/api', router));
    endpoint = new URL(`${server.base}/api/workspaces/lab/mcp`);
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await server.close();
    await router.close();
    await bridge.close();
  });

  it('initializes, lists tools and calls a tool, each client in its own upstream session', async () => {
    const first = await connect('first-client');
    const second = await connect('second-client');
    assert.equal(first.getServerVersion().name, 'lab');
    assert.equal(first.transport.sessionId === second.transport.sessionId, false);
    const { tools } = await first.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    assert.equal(text(await first.callTool({ name: 'echo', arguments: { text: 'hi' } })), 'hi');
    assert.equal(text(await first.callTool({ name: 'client_name', arguments: {} })), 'first-client');
    assert.equal(text(await second.callTool({ name: 'client_name', arguments: {} })), 'second-client');
  });

  it('streams progress to the client as it happens, before the result', async () => {
    const client = await connect();
    const seen = [];
    const started = Date.now();
    const result = await client.callTool({ name: 'progress', arguments: { steps: 3, delay: 0.4 } }, undefined, {
      onprogress: (p) => seen.push({ ...p, at: Date.now() - started }),
    });
    const doneAt = Date.now() - started;
    assert.equal(result.structuredContent.result, 3);
    assert.deepEqual(seen.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]]);
    // The first update arrived while the tool still had two steps to go.
    assert.ok(doneAt - seen[0].at >= 600, `first progress at ${seen[0].at} ms, result at ${doneAt} ms`);
  });

  it('cancels the upstream call when the client aborts', async () => {
    const client = await connect();
    const tag = `cancel-${Date.now()}`;
    const controller = new AbortController();
    const call = client.callTool({ name: 'sleep', arguments: { seconds: 10, tag } }, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    await assert.rejects(call);
    await eventually(async () => {
      const result = await client.callTool({ name: 'cancelled', arguments: {} });
      return result.structuredContent.result.includes(tag);
    });
  });

  it('relays sampling/createMessage to the client and its answer back', async () => {
    const client = await connect('sampler', { sampling: {} });
    const prompts = [];
    client.setRequestHandler(CreateMessageRequestSchema, (request) => {
      prompts.push(request.params.messages[0].content.text);
      return { role: 'assistant', content: { type: 'text', text: 'sampled by the client' }, model: 'test-model' };
    });
    assert.equal(text(await client.callTool({ name: 'sample', arguments: { prompt: 'ping?' } })), 'sampled by the client');
    assert.deepEqual(prompts, ['ping?']);
  });

  it('relays logging notifications to the client', async () => {
    const client = await connect();
    const received = new Promise((resolve) => {
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => resolve(notification.params));
    });
    await client.callTool({ name: 'log', arguments: { message: 'hello log' } });
    const params = await Promise.race([received, new Promise((_, reject) => setTimeout(() => reject(new Error('no log')), 5000))]);
    assert.equal(params.level, 'info');
    assert.match(JSON.stringify(params.data), /hello log/);
  });

  it('keeps the client session across a workspace restart; only the in-flight call fails', async () => {
    const client = await connect('survivor');
    await client.callTool({ name: 'echo', arguments: { text: 'warm' } });
    const pids = hubPids();
    assert.ok(pids.length >= 1);
    const inflight = client.callTool({ name: 'sleep', arguments: { seconds: 10, tag: 'crash' } });
    await eventually(() => bridge.metrics('lab').inFlight >= 1);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await assert.rejects(inflight, { code: -32005 });
    assert.equal(text(await client.callTool({ name: 'client_name', arguments: {} })), 'survivor');
  });

  it("keeps the client's logging level and subscriptions across a workspace restart", async () => {
    const client = await connect('settled');
    const levels = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => levels.push(notification.params.level));
    await client.setLoggingLevel('error');
    await client.subscribeResource({ uri: 'lab://watched' });
    const logAt = async (level) => {
      levels.length = 0;
      await client.callTool({ name: 'log', arguments: { message: `at ${level}`, level } });
      // A log goes before the call's result on its stream; one more round
      // trip lets it reach the handler.
      await client.callTool({ name: 'echo', arguments: { text: 'after' } });
      return [...levels];
    };
    assert.deepEqual(await logAt('info'), []);
    assert.deepEqual(await logAt('error'), ['error']);
    const pids = hubPids();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await eventually(() => bridge.status('lab').state === 'ready' && !pids.includes(bridge.status('lab').pid));
    // The new process's MCP session for this client is set up as the
    // client left the old one.
    assert.deepEqual(await logAt('info'), []);
    assert.deepEqual(await logAt('error'), ['error']);
    const subscribed = await client.callTool({ name: 'subscriptions', arguments: {} });
    assert.deepEqual(subscribed.structuredContent.result, ['lab://watched']);
  });
});

describe('MCP endpoint in front of a stdio workspace', () => {
  it("relays the workspace's logging to the client whose call it came in", async () => {
    const bridge = new Bridge({ workspaces: { lab: labWorkspace('stdio') } });
    const router = bridgeRouter(bridge);
    const server = await serve((app) => app.use('/api', router));
    const client = new Client({ name: 'stdio-client', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.base}/api/workspaces/lab/mcp`)));
      const levels = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => levels.push(notification.params.level));
      await client.callTool({ name: 'log', arguments: { message: 'over stdio', level: 'warning' } });
      // A log goes before its call's result; one more round trip lets it
      // reach the handler.
      await client.callTool({ name: 'echo', arguments: { text: 'after' } });
      assert.deepEqual(levels, ['warning']);
    } finally {
      await client.close().catch(() => {});
      await server.close();
      await router.close();
      await bridge.close();
    }
  });
});
