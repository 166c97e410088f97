// The MCP revision a workspace speaks (`protocol`), against the real FastMCP
// lab workspace over http, unix and stdio and a stdio server built with the
// official TypeScript SDK.
//
// The sessionless 2026-07-28 revision over each transport (its
// subscriptions/listen too, which the lab serves with the MCP SDK's handler),
// and `auto`, which
// speaks it where the server offers it and falls back to `initialize`
// against the SDK server, which does not.
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { Bridge, BridgeError } from 'fastmcp-bridge';

import { eventually, labWorkspace, makeWorkspace, repoDir } from './helpers.js';

const sdkServer = path.join(repoDir, 'tests', 'fixtures', 'sdk-stdio-server.js');


function sdk(extra = {}) {
  return { transport: 'stdio', command: process.execPath, args: [sdkServer], ...extra };
}

async function callTool(target, name, args, options) {
  const result = await target.call('tools/call', { name, arguments: args }, options);
  assert.notEqual(result.isError, true, JSON.stringify(result));
  return result.content[0].text;
}


for (const transport of ['http', 'unix', 'stdio']) describe(`sessionless 2026-07-28 over ${transport}`, () => {
  let bridge;
  let ws;
  before(async () => {
    // Frequent health checks: over stdio they are `server/discover`, which
    // the revision has (it has no `ping`).
    bridge = new Bridge({ workspaces: { lab: labWorkspace(transport, { protocol: 'sessionless', healthIntervalMs: 100 }) } });
    ws = { call: (method, params, options) => bridge.call('lab', method, params, options) };
    await bridge.serverInfo('lab');
  });
  after(() => bridge.close());

  it('discovers the server instead of initializing', async () => {
    const info = await bridge.serverInfo('lab');
    assert.equal(info.protocolVersion, '2026-07-28');
    assert.ok(info.supportedVersions.includes('2026-07-28'));
    assert.equal(info.serverInfo.name, 'lab');
    assert.ok(info.capabilities.tools);
  });

  it('calls tools with the client info of each session in the request envelope', async () => {
    assert.equal(await callTool(ws, 'echo', { text: 'hello' }), 'hello');
    assert.equal(await callTool(ws, 'client_name', {}), 'fastmcp-bridge');
    const session = bridge.session('lab', { clientInfo: { name: 'second-client', version: '2.0.0' } });
    try {
      assert.equal((await session.serverInfo()).protocolVersion, '2026-07-28');
      assert.equal(await callTool(session, 'client_name', {}), 'second-client');
    } finally {
      await session.close();
    }
  });

  it('mirrors arguments marked x-mcp-header in Mcp-Param-* headers, which the server checks', async () => {
    // Over HTTP, FastMCP rejects a call whose marked argument has no header
    // (HeaderMismatch, -32020): the first call is the one the transport lists
    // the tools for, the second follows the caller's own listing.
    const fresh = new Bridge({ workspaces: { lab: labWorkspace(transport, { protocol: 'sessionless' }) } });
    try {
      const call = (args) => callTool({ call: (m, p) => fresh.call('lab', m, p) }, 'routed', args);
      assert.equal(await call({ region: 'eu-west', shard: 3, text: 'a' }), 'eu-west/3/a');
      await fresh.call('lab', 'tools/list', {});
      assert.equal(await call({ region: 'zürich ', text: 'b' }), 'zürich /0/b');
    } finally {
      await fresh.close();
    }
  });

  it('delivers progress in order before the result', async () => {
    const seen = [];
    const text = await callTool(ws, 'progress', { steps: 3, delay: 0.01 }, { onProgress: (p) => seen.push(p) });
    assert.equal(text, '3');
    assert.deepEqual(seen.map((p) => p.progress), [1, 2, 3]);
  });

  it("answers an InputRequiredResult with the call's onRequest and sends the request again", async () => {
    const asked = [];
    const text = await callTool(ws, 'confirm', { question: 'deploy?' }, {
      onRequest: (request) => {
        asked.push(request);
        return { action: 'accept', content: { ok: true } };
      },
    });
    assert.equal(text, 'deploy?:accept:{"ok": true}');
    assert.equal(asked.length, 1);
    assert.equal(asked[0].method, 'elicitation/create');
    assert.equal(asked[0].params.message, 'deploy?');
  });

  it("falls back to the bridge's onRequest handler, and fails the call when none is set", async () => {
    await assert.rejects(callTool(ws, 'confirm', { question: 'nobody?' }), (err) => {
      assert.ok(err instanceof BridgeError);
      assert.equal(err.rpcCode, -32601);
      assert.match(err.message, /elicitation\/create/);
      return true;
    });
    bridge.onRequest('elicitation/create', () => ({ action: 'decline' }));
    assert.equal(await callTool(ws, 'confirm', { question: 'bridge?' }), 'bridge?:decline:null');
  });

  it('fails a call whose server keeps asking for input with PROTOCOL_ERROR after 16 rounds', async () => {
    let asked = 0;
    const onRequest = (request) => {
      assert.equal(request.method, 'roots/list');
      asked += 1;
      return { roots: [] };
    };
    await assert.rejects(ws.call('tools/call', { name: 'ask_forever', arguments: {} }, { onRequest }), (err) => {
      assert.equal(err.code, 'PROTOCOL_ERROR');
      assert.match(err.message, /more than 16 times/);
      return true;
    });
    assert.equal(asked, 16);
  });

  it('cancels an in-flight call on abort and on timeout; the tool sees both', async () => {
    const controller = new AbortController();
    const aborted = callTool(ws, 'sleep_started', { seconds: 10, tag: `abort-${transport}` }, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await assert.rejects(aborted, (err) => err.code === 'ABORTED');
    await assert.rejects(callTool(ws, 'sleep', { seconds: 10, tag: `timeout-${transport}` }, { timeoutMs: 300 }), (err) => err.code === 'TIMEOUT');
    await eventually(async () => {
      const cancelled = JSON.parse(await callTool(ws, 'cancelled', {}));
      return cancelled.includes(`abort-${transport}`) && cancelled.includes(`timeout-${transport}`);
    });
  });

  it('carries list changes and the subscribed resources\' updates on subscriptions/listen, and none after unsubscribing', async () => {
    const seen = [];
    const record = (id, message) => {
      if (id === 'lab' && message.method !== 'notifications/message') seen.push([message.method, message.params?.uri]);
    };
    bridge.on('notification', record);
    try {
      assert.deepEqual(await bridge.call('lab', 'resources/subscribe', { uri: `lab://${transport}` }), {});
      await callTool(ws, 'publish', { tools_changed: true, updated: `lab://${transport}` });
      await callTool(ws, 'publish', { updated: 'lab://not-subscribed' });
      await eventually(() => seen.length >= 2);
      await delay(200);
      assert.deepEqual(seen, [
        ['notifications/tools/list_changed', undefined],
        ['notifications/resources/updated', `lab://${transport}`],
      ]);
      assert.deepEqual(await bridge.call('lab', 'resources/unsubscribe', { uri: `lab://${transport}` }), {});
      seen.length = 0;
      await callTool(ws, 'publish', { updated: `lab://${transport}`, tools_changed: true });
      await eventually(() => seen.length >= 1);
      await delay(200);
      assert.deepEqual(seen, [['notifications/tools/list_changed', undefined]]);
    } finally {
      bridge.off('notification', record);
    }
  });

  it('passes its health checks', async () => {
    await delay(600);
    const status = bridge.status('lab');
    assert.equal(status.state, 'ready');
    assert.equal(status.restarts, 0);
  });

  it("keeps a server error's JSON-RPC code", async () => {
    await assert.rejects(ws.call('no/such/method', {}), (err) => err instanceof BridgeError && err.rpcCode === -32601);
    // The bridge is still usable afterwards.
    assert.equal(await callTool(ws, 'echo', { text: 'after' }), 'after');
  });
});

describe('sessionless 2026-07-28 with a server that does not serve subscriptions/listen', () => {
  let bridge;
  before(() => {
    const dir = makeWorkspace({ name: 'plain', tools: ['plain_tools'] }, {
      'plain_tools.py': 'def register(mcp):\n    @mcp.tool\n    def echo(text: str) -> str:\n        return text\n',
    });
    bridge = new Bridge({ workspaces: { plain: { dir, protocol: 'sessionless' } } });
  });
  after(() => bridge.close());

  it('refuses resources/subscribe with -32602 at once, and calls go on', async () => {
    await assert.rejects(bridge.call('plain', 'resources/subscribe', { uri: 'x://1' }, { timeoutMs: 10_000 }), (err) => {
      assert.equal(err.rpcCode, -32602);
      assert.match(err.message, /did not accept a subscription to x:\/\/1/);
      return true;
    });
    const result = await bridge.call('plain', 'tools/call', { name: 'echo', arguments: { text: 'still' } });
    assert.equal(result.content[0].text, 'still');
  });
});

describe('protocol: auto', () => {
  let bridge;
  before(() => {
    bridge = new Bridge({
      workspaces: {
        hub: labWorkspace('http', { protocol: 'auto' }),
        sdk: sdk({ protocol: 'auto' }),
        sdkSessionless: sdk({ protocol: 'sessionless' }),
        sdkDefault: sdk(),
      },
    });
  });
  after(() => bridge.close());

  it('speaks 2026-07-28 to a server that offers it', async () => {
    assert.equal((await bridge.serverInfo('hub')).protocolVersion, '2026-07-28');
    assert.equal(await callTool({ call: (m, p, o) => bridge.call('hub', m, p, o) }, 'echo', { text: 'a' }), 'a');
  });

  it('falls back to initialize with a server that does not know server/discover', async () => {
    const info = await bridge.serverInfo('sdk');
    assert.equal(info.protocolVersion, '2025-11-25');
    assert.equal(info.serverInfo.name, 'sdk-stdio');
    assert.equal(await callTool({ call: (m, p, o) => bridge.call('sdk', m, p, o) }, 'echo', { text: 'b' }), 'b');
    // The default is the handshake, with no probe at all.
    assert.equal((await bridge.serverInfo('sdkDefault')).protocolVersion, '2025-11-25');
  });

  it("fails the start of a 'sessionless' workspace whose server does not offer it", async () => {
    await assert.rejects(bridge.serverInfo('sdkSessionless'), (err) => {
      assert.equal(err.code, 'START_FAILED');
      assert.match(err.message, /Method not found/);
      return true;
    });
  });

  it('rejects an unknown protocol with INVALID_ARGUMENT', () => {
    assert.throws(
      () => new Bridge({ workspaces: { x: labWorkspace('http', { protocol: '2026-07-28' }) } }),
      (err) => err.code === 'INVALID_ARGUMENT' && /protocol must be/.test(err.message),
    );
    assert.throws(() => new Bridge({ protocol: 'sessionfull' }), (err) => err.code === 'INVALID_ARGUMENT');
  });
});
