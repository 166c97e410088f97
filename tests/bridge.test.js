// Bridge.call and the Bridge's life cycle against real FastMCP workspaces
// (examples/workspaces, and temporary ones): results and error codes, inline
// configuration, start failures, close(), and no process left behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { Bridge, BridgeError, errorCodes } from 'fastmcp-bridge';

import { hubPids, isAlive, makeWorkspace, repoDir, workspacesDir } from './helpers.js';

/** Runs fn with a new Bridge and closes it after, as `await using` would (Node 22+). */
async function withBridge(options, fn) {
  const bridge = new Bridge(options);
  try {
    await fn(bridge);
  } finally {
    await bridge[Symbol.asyncDispose]();
  }
}

/** Pids of the hub processes this test process started. */

describe('Bridge.call against real FastMCP workspaces', () => {
  let bridge;
  before(() => {
    bridge = new Bridge({
      workspaces: {
        alpha: { dir: path.join(workspacesDir, 'alpha') },
        beta: { dir: path.join(workspacesDir, 'beta') },
      },
    });
  });
  after(() => bridge.close());

  it('calls a tool and resolves with the JSON-RPC result', async () => {
    const result = await bridge.call('alpha', 'tools/call', { name: 'echo', arguments: { text: 'hi' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'hi' }]);
    assert.equal(result.isError, false);
  });

  it('with raw: true resolves with the result as JSON text, and rejects as without it', async () => {
    const params = { name: 'echo', arguments: { text: 'raw "text"\n' } };
    const text = await bridge.call('alpha', 'tools/call', params, { raw: true });
    assert.equal(typeof text, 'string');
    assert.deepEqual(JSON.parse(text), await bridge.call('alpha', 'tools/call', params));
    const session = bridge.session('alpha');
    try {
      assert.deepEqual(JSON.parse(await session.call('tools/list', undefined, { raw: true })), await session.call('tools/list'));
    } finally {
      await session.close();
    }
    await assert.rejects(bridge.call('alpha', 'no/such/method', undefined, { raw: true }), { code: -32601 });
  });

  it('keeps each workspace in its own process with its own tools', async () => {
    const [alpha, beta] = await Promise.all([bridge.call('alpha', 'tools/list'), bridge.call('beta', 'tools/list')]);
    assert.deepEqual(alpha.tools.map((t) => t.name).sort(), ['add', 'echo', 'time_convert_time', 'time_get_current_time']);
    assert.deepEqual(beta.tools.map((t) => t.name).sort(), ['echo', 'word_count']);
    const [a, b] = await Promise.all([bridge.serverInfo('alpha'), bridge.serverInfo('beta')]);
    assert.equal(a.serverInfo.name, 'alpha');
    assert.equal(b.serverInfo.name, 'beta');
  });

  it('serves concurrent calls on one process, each with its own result', async () => {
    const texts = Array.from({ length: 20 }, (_, i) => `message ${i}`);
    const results = await Promise.all(
      texts.map((text) => bridge.call('alpha', 'tools/call', { name: 'echo', arguments: { text } })),
    );
    assert.deepEqual(
      results.map((r) => r.content[0].text),
      texts,
    );
  });

  it('rejects a JSON-RPC error from the server with its numeric code', async () => {
    await assert.rejects(bridge.call('alpha', 'no/such/method'), (err) => {
      assert.ok(err instanceof BridgeError);
      assert.equal(err.code, -32601);
      assert.equal(err.rpcCode, -32601);
      return true;
    });
  });

  it('rejects an unknown workspace with UNKNOWN_WORKSPACE', async () => {
    await assert.rejects(bridge.call('nope', 'tools/list'), (err) => {
      assert.ok(err instanceof BridgeError);
      assert.equal(err.code, 'UNKNOWN_WORKSPACE');
      assert.equal(err.rpcCode, errorCodes.UNKNOWN_WORKSPACE.code);
      return true;
    });
  });

  it('rejects malformed arguments with INVALID_ARGUMENT', async () => {
    await assert.rejects(bridge.call('alpha', ''), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(bridge.call('alpha', 'tools/list', 'text'), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(bridge.call('alpha', 'tools/list', {}, { priority: 'urgent' }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(bridge.call('alpha', 'tools/list', {}, { timeoutMs: 0 }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(bridge.call('alpha', 'tools/list', {}, { timeout: 5 }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(bridge.call('alpha', 'tools/list', {}, { raw: 'yes' }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(bridge.call(42, 'tools/list'), { code: 'INVALID_ARGUMENT' });
  });
});

describe('inline workspace configuration', () => {
  it('aggregates inline mcpServers and tools without a workspace.json', async () => {
    const dir = makeWorkspace({}, { 'inline_tools.py': 'def register(mcp):\n    @mcp.tool\n    def shout(text: str) -> str:\n        return text.upper()\n' });
    const workspace = {
      dir,
      tools: ['inline_tools'],
      mcpServers: { clock: { command: 'python', args: ['-m', 'mcp_server_time'] } },
    };
    await withBridge({ workspaces: { inline: workspace } }, async (bridge) => {
      const { tools } = await bridge.call('inline', 'tools/list');
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('shout'), names.join());
      assert.ok(names.includes('clock_get_current_time'), names.join());
      const result = await bridge.call('inline', 'tools/call', { name: 'shout', arguments: { text: 'hi' } });
      assert.equal(result.content[0].text, 'HI');
    });
  });

  it('runs a workspace configured only inline, without a directory, in a private directory removed when it stops', async () => {
    // The hub's private directory is made under the system's temporary directory.
    const privateDirs = () => readdirSync('/tmp').filter((name) => name.startsWith('fastmcp-workspace-'));
    const before = new Set(privateDirs());
    const workspace = { mcpServers: { clock: { command: 'python', args: ['-m', 'mcp_server_time'] } } };
    await withBridge({ workspaces: { agg: workspace } }, async (bridge) => {
      const { tools } = await bridge.call('agg', 'tools/list');
      assert.ok(tools.some((t) => t.name === 'clock_get_current_time'), tools.map((t) => t.name).join());
      assert.equal((await bridge.serverInfo('agg')).serverInfo.name, 'workspace');
      assert.equal(privateDirs().filter((name) => !before.has(name)).length, 1);
      await bridge.stop('agg');
      assert.deepEqual(privateDirs().filter((name) => !before.has(name)), []);
    });
    assert.throws(() => new Bridge({ workspaces: { none: {} } }), (err) => err.code === 'INVALID_ARGUMENT' && /needs "dir", or its configuration inline/.test(err.message));
  });

  it('a bad inline server entry rejects with START_FAILED carrying the hub error line', async () => {
    const dir = makeWorkspace({});
    await withBridge({ workspaces: { bad: { dir, mcpServers: { broken: { args: ['x'] } } } } }, async (bridge) => {
      await assert.rejects(bridge.call('bad', 'tools/list'), (err) => {
        assert.equal(err.code, 'START_FAILED');
        assert.ok(err.data.stderr.some((line) => line.includes('broken')), err.data.stderr);
        return true;
      });
    });
  });
});

describe('workspaces that cannot start', () => {
  it('a missing directory rejects with START_FAILED carrying the hub stderr', async () => {
    await withBridge({ workspaces: { gone: { dir: '/nonexistent/fastmcp-bridge-ws' } } }, async (bridge) => {
      await assert.rejects(bridge.call('gone', 'tools/list'), (err) => {
        assert.equal(err.code, 'START_FAILED');
        assert.ok(err.data.stderr.some((line) => line.includes('/nonexistent/fastmcp-bridge-ws')), err.data.stderr);
        return true;
      });
    });
  });

  it('a Python error on import rejects with START_FAILED carrying the traceback', async () => {
    const dir = makeWorkspace({ tools: ['broken'] }, { 'broken.py': 'raise ValueError("broken on purpose")\n' });
    await withBridge({ workspaces: { broken: { dir } } }, async (bridge) => {
      await assert.rejects(bridge.call('broken', 'tools/list'), (err) => {
        assert.equal(err.code, 'START_FAILED');
        assert.ok(err.data.stderr.join('\n').includes('broken on purpose'), err.data.stderr);
        return true;
      });
    });
  });

  it('a process that never becomes ready rejects within the start timeout', async () => {
    const dir = makeWorkspace({ tools: ['slow'] }, { 'slow.py': 'import time\ntime.sleep(120)\n' });
    await withBridge({ workspaces: { slow: { dir, startTimeoutMs: 1500 } } }, async (bridge) => {
      const started = Date.now();
      await assert.rejects(bridge.call('slow', 'tools/list'), { code: 'START_FAILED' });
      assert.ok(Date.now() - started < 15_000);
    });
  });

  it('a missing interpreter rejects with START_FAILED', async () => {
    const options = { python: '/nonexistent/python3', workspaces: { alpha: { dir: path.join(workspacesDir, 'alpha') } } };
    await withBridge(options, async (bridge) => {
      await assert.rejects(bridge.call('alpha', 'tools/list'), { code: 'START_FAILED' });
    });
  });
});

describe('Bridge lifecycle', () => {
  it('hasWorkspace() tells configured, added and removed workspaces apart', async () => {
    await withBridge({ workspaces: { alpha: { dir: path.join(workspacesDir, 'alpha') } } }, async (bridge) => {
      assert.equal(bridge.hasWorkspace('alpha'), true);
      assert.equal(bridge.hasWorkspace('beta'), false);
      assert.equal(bridge.hasWorkspace(42), false);
      bridge.addWorkspace('beta', { dir: path.join(workspacesDir, 'beta') });
      assert.equal(bridge.hasWorkspace('beta'), true);
      await bridge.removeWorkspace('beta', { graceMs: 100 });
      assert.equal(bridge.hasWorkspace('beta'), false);
      assert.deepEqual(bridge.workspaceIds, ['alpha']);
    });
  });

  it('rejects unknown options when constructed', () => {
    assert.throws(() => new Bridge({ workspaces: {}, pyhton: 'x' }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new Bridge({ workspaces: { a: {} } }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new Bridge({ workspaces: { a: { dir: 'x', startTimeoutMs: -1 } } }), { code: 'INVALID_ARGUMENT' });
  });

  it('close() during the backoff before a restart starts no process', async () => {
    // The start times out, the supervisor schedules a restart, and the
    // bridge closes before (or while) it runs: no hub may appear afterwards.
    const dir = makeWorkspace({ tools: ['slow'] }, { 'slow.py': 'import time\ntime.sleep(120)\n' });
    const before = new Set(hubPids());
    const bridge = new Bridge({ workspaces: { slow: { dir, startTimeoutMs: 1000 } } });
    await assert.rejects(bridge.call('slow', 'tools/list'), { code: 'START_FAILED' });
    await bridge.close();
    for (let i = 0; i < 10; i++) {
      await delay(300);
      assert.deepEqual(hubPids().filter((pid) => !before.has(pid)), [], `a hub process runs ${300 * (i + 1)} ms after close()`);
    }
  });

  it('close() stops every process it started and later calls reject with CLOSED', async () => {
    const before = new Set(hubPids());
    const bridge = new Bridge({ workspaces: { alpha: { dir: path.join(workspacesDir, 'alpha') } } });
    await bridge.call('alpha', 'tools/list');
    const started = hubPids().filter((pid) => !before.has(pid));
    assert.equal(started.length, 1);
    await Promise.all([bridge.close(), bridge.close()]);
    assert.equal(isAlive(started[0]), false);
    await assert.rejects(bridge.call('alpha', 'tools/list'), { code: 'CLOSED' });
  });

  it('calls made in the same run of JS code as close() each settle once, with a result or CLOSED, and leave no process', async () => {
    // The calls are admitted at once and handed to the runtime in a batch
    // after this code returns; close() comes before that batch is flushed.
    const before = new Set(hubPids());
    const bridge = new Bridge({ workspaces: { alpha: { dir: path.join(workspacesDir, 'alpha') } } });
    const settled = [];
    const calls = Array.from({ length: 50 }, (_, i) =>
      bridge.call('alpha', 'tools/call', { name: 'echo', arguments: { text: `c${i}` } }).then(
        (result) => settled.push(result.structuredContent.result === `c${i}` ? 'ok' : 'wrong result'),
        (err) => settled.push(err.code),
      ),
    );
    const closed = bridge.close();
    await Promise.all([...calls, closed]);
    assert.equal(settled.length, 50);
    assert.deepEqual([...new Set(settled)].filter((outcome) => outcome !== 'ok' && outcome !== 'CLOSED'), []);
    assert.deepEqual(hubPids().filter((pid) => !before.has(pid)), []);
  });

  it('settles each of 5,000 calls made in one run of JS code once, with its own outcome', async () => {
    // Calls to unknown workspaces fail in the core without I/O, so they
    // settle in large batches: each promise must still get its own error.
    await withBridge({ workspaces: {} }, async (bridge) => {
      const settledCount = new Array(5000).fill(0);
      const calls = Array.from({ length: 5000 }, (_, i) =>
        bridge.call(`nope-${i}`, 'tools/list').then(
          () => assert.fail(`call ${i} resolved`),
          (err) => {
            assert.equal(err.code, 'UNKNOWN_WORKSPACE');
            assert.equal(err.data.workspace, `nope-${i}`);
            settledCount[i] += 1;
          },
        ),
      );
      await Promise.all(calls);
      assert.deepEqual([...new Set(settledCount)], [1]);
    });
  });

  it('a pending call keeps the event loop alive and a settled one lets the process exit', async () => {
    // A script that awaits one call at top level and never closes the
    // bridge: Node must wait for the call (exit code 13 and no output if
    // nothing kept the event loop alive), then exit by itself.
    const script = `
      import { Bridge } from ${JSON.stringify(pathToFileURL(path.join(repoDir, 'index.js')).href)};
      const bridge = new Bridge({ workspaces: { alpha: { dir: ${JSON.stringify(path.join(workspacesDir, 'alpha'))} } } });
      const result = await bridge.call('alpha', 'tools/call', { name: 'echo', arguments: { text: 'kept alive' } });
      console.log(result.content[0].text);
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(stdout.trim(), 'kept alive');
  });
});
