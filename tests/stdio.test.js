// The stdio transport with real MCP server commands: a third-party server
// from PyPI (mcp-server-time) and a FastMCP server that prints a banner;
// the one MCP session of a stdio process shared by the workspace's sessions
// (its notifications, and whose a server request is).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';

import { Bridge, defaultPython } from 'fastmcp-bridge';

import { childPids, eventually, repoDir } from './helpers.js';

const labServer = path.join(repoDir, 'tests', 'workspaces', 'lab', 'stdio_server.py');

describe('stdio transport', () => {
  it('runs a third-party MCP server command and calls its tools', async () => {
    const bridge = new Bridge({ workspaces: { time: { transport: 'stdio', command: defaultPython(), args: ['-m', 'mcp_server_time'] } } });
    try {
      const { tools } = await bridge.call('time', 'tools/list');
      assert.deepEqual(tools.map((t) => t.name).sort(), ['convert_time', 'get_current_time']);
      const result = await bridge.call('time', 'tools/call', { name: 'get_current_time', arguments: { timezone: 'UTC' } });
      assert.equal(result.isError, false);
      assert.match(result.content[0].text, /UTC/);
    } finally {
      await bridge.close();
    }
  });

  it('sends the calls made in one run of JS code in the order they were made', async () => {
    // The lab server behind `tee`, which copies what the bridge writes to
    // the pipe into a file: the order on the wire itself, whatever order
    // the server then runs the requests in. tee is in the process group the
    // bridge stops.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-order-'));
    const wire = path.join(dir, 'stdin.jsonl');
    const command = { transport: 'stdio', command: 'sh', args: ['-c', 'tee "$0" | "$1" "$2"', wire, defaultPython(), labServer] };
    const bridge = new Bridge({ workspaces: { lab: { ...command, maxConcurrent: 64 } } });
    try {
      await bridge.start('lab');
      const tags = Array.from({ length: 40 }, (_, i) => `t${i}`);
      await Promise.all(tags.map((tag) => bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: tag } })));
      const sent = readFileSync(wire, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
        .filter((message) => message.method === 'tools/call')
        .map((message) => message.params.arguments.text);
      assert.deepEqual(sent, tags);
    } finally {
      await bridge.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips and logs stdout lines that are not JSON-RPC, answers health pings, restarts after a crash', async () => {
    const options = { workspaces: { lab: { transport: 'stdio', command: defaultPython(), args: [labServer], healthIntervalMs: 200 } } };
    const bridge = new Bridge(options);
    try {
      await bridge.start('lab');
      assert.ok(bridge.logs('lab').some((l) => l.stream === 'stdout' && l.line === 'lab stdio server starting'));
      await delay(700); // a few pings
      assert.equal(bridge.status('lab').state, 'ready');
      assert.ok(!bridge.events('lab').some((e) => e.type === 'health_failure'));
      const { pid } = bridge.status('lab');
      const call = bridge.call('lab', 'tools/call', { name: 'sleep', arguments: { seconds: 10 } });
      await delay(300);
      process.kill(pid, 'SIGKILL');
      await assert.rejects(call, { code: 'WORKSPACE_CRASHED' });
      const echo = await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: 'back' } });
      assert.equal(echo.content[0].text, 'back');
      assert.equal(bridge.status('lab').restarts, 1);
    } finally {
      await bridge.close();
    }
  });

  it('shares the one MCP session of a stdio process with bridge.session()', async () => {
    const bridge = new Bridge({ workspaces: { lab: { transport: 'stdio', command: defaultPython(), args: [labServer] } } });
    try {
      const session = bridge.session('lab', { clientInfo: { name: 'other', version: '1' } });
      const name = await session.call('tools/call', { name: 'client_name', arguments: {} });
      assert.equal(name.content[0].text, 'fastmcp-bridge');
      await session.close();
    } finally {
      await bridge.close();
    }
  });

  it('routes a server request to the one MCP session with calls in flight; with calls of several, to bridge.onRequest', async () => {
    const bridge = new Bridge({ capabilities: { sampling: {} }, workspaces: { lab: { transport: 'stdio', command: defaultPython(), args: [labServer] } } });
    const sampled = (text) => ({ role: 'assistant', content: { type: 'text', text }, model: 'test-model' });
    bridge.onRequest('sampling/createMessage', () => sampled('bridge'));
    const sample = (session) =>
      session.call('tools/call', { name: 'sample', arguments: { prompt: 'x' } }, { onRequest: () => sampled('its own session') });
    try {
      const a = bridge.session('lab');
      const b = bridge.session('lab');
      // Only a's call waits: the request can be nobody else's.
      assert.equal((await sample(a)).content[0].text, 'its own session');
      // b's call waits too: nothing on stdio says whose the request is.
      const waiting = b.call('tools/call', { name: 'sleep', arguments: { seconds: 1 } });
      await delay(300);
      assert.equal((await sample(a)).content[0].text, 'bridge');
      await waiting;
      // Alone again.
      assert.equal((await sample(b)).content[0].text, 'its own session');
      await Promise.all([a.close(), b.close()]);
    } finally {
      await bridge.close();
    }
  });

  it("per-client mode gives each bridge.session() a process of its own, with its client's identity, stopped when it closes", async () => {
    const servers = () => childPids(process.pid, 'lab/stdio_server[.]py');
    const bridge = new Bridge({
      capabilities: { sampling: {} },
      maxRunning: 3,
      workspaces: { lab: { transport: 'stdio', command: defaultPython(), args: [labServer], session: 'per-client' } },
    });
    const sampled = (text) => ({ role: 'assistant', content: { type: 'text', text }, model: 'test-model' });
    bridge.onRequest('sampling/createMessage', () => sampled('bridge'));
    try {
      const a = bridge.session('lab', { clientInfo: { name: 'client-a', version: '1' }, capabilities: { sampling: {} } });
      const b = bridge.session('lab', { clientInfo: { name: 'client-b', version: '1' }, capabilities: { sampling: {} } });
      const name = async (session) => (await session.call('tools/call', { name: 'client_name', arguments: {} })).content[0].text;
      assert.deepEqual(await Promise.all([name(a), name(b)]), ['client-a', 'client-b']);
      assert.equal(servers().length, 2);
      // Server requests of calls in flight at once each reach their own client.
      const sample = (session, who) =>
        session.call('tools/call', { name: 'sample', arguments: { prompt: 'x' } }, { onRequest: async () => { await delay(200); return sampled(who); } });
      const answers = await Promise.all([sample(a, 'a'), sample(b, 'b')]);
      assert.deepEqual(answers.map((r) => r.content[0].text), ['a', 'b']);
      // The bridge's own calls keep the shared process.
      assert.equal((await bridge.call('lab', 'tools/call', { name: 'client_name', arguments: {} })).content[0].text, 'fastmcp-bridge');
      assert.equal(servers().length, 3);
      await a.close();
      await eventually(() => servers().length === 2);
      await assert.rejects(a.call('tools/list'), { code: 'CLOSED' });
      assert.equal(await name(b), 'client-b');
    } finally {
      await bridge.close();
    }
    assert.deepEqual(servers(), []);
    assert.throws(
      () => new Bridge({ workspaces: { hub: { dir: labServer, session: 'per-client' } } }),
      (err) => err.code === 'INVALID_ARGUMENT' && /session applies to stdio workspaces/.test(err.message),
    );
  });

  it("delivers the shared MCP session's notifications to every open session and to the bridge", async () => {
    const bridge = new Bridge({ workspaces: { lab: { transport: 'stdio', command: defaultPython(), args: [labServer] } } });
    const logs = (target) => {
      const seen = [];
      target.on('notification', (...args) => {
        const message = args.at(-1);
        if (message.method === 'notifications/message') seen.push(message.params.data?.msg ?? message.params.data);
      });
      return seen;
    };
    try {
      const first = bridge.session('lab');
      const second = bridge.session('lab');
      const [onFirst, onSecond, onBridge] = [logs(first), logs(second), logs(bridge)];
      await first.call('tools/call', { name: 'log', arguments: { message: 'one' } });
      // A closed session leaves the fan-out; the others still get it.
      await second.close();
      await first.call('tools/call', { name: 'log', arguments: { message: 'two' } });
      // A log goes before its call's response; one more round trip lets
      // the last one reach its listeners.
      await first.call('tools/call', { name: 'echo', arguments: { text: 'after' } });
      await delay(50);
      assert.deepEqual(onFirst, ['one', 'two']);
      assert.deepEqual(onSecond, ['one']);
      assert.deepEqual(onBridge, ['one', 'two']);
      await first.close();
    } finally {
      await bridge.close();
    }
  });

  it('a command that does not exist fails to start', async () => {
    const bridge = new Bridge({ workspaces: { nope: { transport: 'stdio', command: '/nonexistent/mcp-server' } } });
    try {
      await assert.rejects(bridge.call('nope', 'tools/list'), { code: 'START_FAILED' });
    } finally {
      await bridge.close();
    }
    assert.throws(() => new Bridge({ workspaces: { x: { transport: 'stdio' } } }), { code: 'INVALID_ARGUMENT' });
  });
});
