// Supervision against real workspace processes, spawned and forked (each
// test runs with both launchers): crash detection and restart, health
// checks, backoff and the restart intensity limit, graceful stop, logs and
// events, and no orphans when the Node process dies.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';

import { eventually as poll, isAlive, labDir, makeWorkspace, repoDir } from './helpers.js';

/** Every test runs with each way of starting a hub workspace. */
const LAUNCHERS = ['spawn', 'fork'];

/** The pids of the processes whose parent is `pid`. */
function childrenOf(pid) {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  return out.split(/\s+/).filter(Boolean).map(Number);
}

/**
 * The path of the Unix socket `pid` listens on: the one of its socket
 * descriptors that `/proc/<pid>/net/unix` lists with a `.sock` path (a
 * forked hub's command line is its fork server's, so it does not tell).
 */
function socketPathOf(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  // Num RefCount Protocol Flags Type St Inode Path
  for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (inodes.has(columns[6]) && columns[7]?.endsWith('.sock')) return columns[7];
  }
  return undefined;
}

/** As `poll`, waiting up to 10 s by default: restarts take a backoff delay. */
const eventually = (check, ms = 10_000) => poll(check, ms);



async function withBridgeOf(options, fn) {
  const bridge = new Bridge(options);
  try {
    await fn(bridge);
  } finally {
    await bridge.close();
  }
}

function sleepCall(bridge, id, seconds) {
  return bridge.call(id, 'tools/call', { name: 'sleep', arguments: { seconds, tag: 'x' } });
}

for (const launcher of LAUNCHERS) {
  const withBridge = (options, fn) => withBridgeOf({ launcher, ...options }, fn);

  describe(`supervision (launcher: ${launcher})`, () => {
    it('kill -9 during a call: WORKSPACE_CRASHED within 1 s, then a restart serves the next call', async () => {
      await withBridge({ workspaces: { lab: { dir: labDir } } }, async (bridge) => {
        await bridge.start('lab');
        const { pid, state } = bridge.status('lab');
        assert.equal(state, 'ready');
        const call = sleepCall(bridge, 'lab', 10);
        await eventually(() => bridge.metrics('lab').inFlight === 1);
        await delay(200);
        const killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
        await assert.rejects(call, (err) => {
          assert.equal(err.code, 'WORKSPACE_CRASHED');
          assert.equal(err.data.status, 'signal 9');
          return true;
        });
        assert.ok(Date.now() - killedAt < 1000, `rejected after ${Date.now() - killedAt} ms`);
        const result = await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: 'again' } });
        assert.equal(result.content[0].text, 'again');
        const status = bridge.status('lab');
        assert.equal(status.state, 'ready');
        assert.equal(status.restarts, 1);
        assert.notEqual(status.pid, pid);
        assert.equal(status.lastExit, 'signal 9');
        const types = bridge.events('lab').map((e) => e.type);
        assert.ok(types.includes('crash') && types.includes('restart'), types.join());
      });
    });

    it('restarts a process whose health checks fail (SIGSTOP)', async () => {
      const options = { workspaces: { lab: { dir: labDir, healthIntervalMs: 200, healthTimeoutMs: 200, maxHealthFailures: 2 } } };
      await withBridge(options, async (bridge) => {
        const seen = [];
        bridge.on('event', (e) => seen.push(e.type === 'state' ? `state:${e.to}` : e.type));
        await bridge.start('lab');
        const { pid } = bridge.status('lab');
        process.kill(pid, 'SIGSTOP');
        await eventually(() => bridge.status('lab').restarts === 1 && bridge.status('lab').state === 'ready', 15_000);
        assert.equal(isAlive(pid), false);
        assert.ok(seen.includes('health_failure') && seen.includes('state:unhealthy'), seen.join());
        const result = await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: 'healthy' } });
        assert.equal(result.content[0].text, 'healthy');
      });
    });

    it('backs off with growing delays, fails past the restart intensity, and restart() recovers once fixed', async () => {
      const dir = makeWorkspace({ tools: ['flaky'] }, { 'flaky.py': 'raise RuntimeError("not yet")\n' });
      await withBridge({ workspaces: { flaky: { dir, maxRestarts: 2 } } }, async (bridge) => {
        await assert.rejects(bridge.call('flaky', 'tools/list'), { code: 'START_FAILED' });
        await eventually(() => bridge.status('flaky').state === 'failed', 20_000);
        const delays = bridge.events('flaky').filter((e) => e.type === 'restart').map((e) => e.delayMs);
        assert.equal(delays.length, 2);
        assert.ok(delays[0] <= 500 && delays[1] >= 500 && delays[1] <= 1000, delays.join());
        const started = Date.now();
        await assert.rejects(bridge.call('flaky', 'tools/list'), { code: 'WORKSPACE_FAILED' });
        assert.ok(Date.now() - started < 100);
        writeFileSync(path.join(dir, 'flaky.py'), 'def register(mcp):\n    pass\n');
        await bridge.restart('flaky');
        assert.equal(bridge.status('flaky').state, 'ready');
        await bridge.call('flaky', 'tools/list');
      });
    });

    it('stop lets calls finish within the grace period and rejects the rest with WORKSPACE_STOPPED', async () => {
      await withBridge({ workspaces: { lab: { dir: labDir } } }, async (bridge) => {
        await bridge.start('lab');
        const { pid } = bridge.status('lab');
        const short = sleepCall(bridge, 'lab', 0.3);
        const long = sleepCall(bridge, 'lab', 10);
        const settled = Promise.allSettled([short, long]);
        await eventually(() => bridge.metrics('lab').inFlight === 2);
        await bridge.stop('lab', { graceMs: 1000 });
        const [shortOutcome, longOutcome] = await settled;
        assert.equal(shortOutcome.status, 'fulfilled');
        assert.equal(longOutcome.status, 'rejected');
        assert.equal(longOutcome.reason.code, 'WORKSPACE_STOPPED');
        assert.equal(bridge.status('lab').state, 'stopped');
        assert.equal(isAlive(pid), false);
        // A stopped workspace starts again on its next call.
        await bridge.call('lab', 'tools/list');
        assert.equal(bridge.status('lab').state, 'ready');
      });
    });

    it('keeps the process output in logs() with stream and time', async () => {
      const dir = makeWorkspace({ tools: ['noisy'] }, { 'noisy.py': 'import sys\nprint("hello from stderr", file=sys.stderr)\ndef register(mcp):\n    pass\n' });
      await withBridge({ workspaces: { noisy: { dir } } }, async (bridge) => {
        await bridge.start('noisy');
        const logs = bridge.logs('noisy', { lines: 50 });
        const line = logs.find((l) => l.line === 'hello from stderr');
        assert.ok(line, JSON.stringify(logs));
        assert.equal(line.stream, 'stderr');
        assert.ok(line.at > Date.now() - 60_000);
        assert.throws(() => bridge.logs('nope'), { code: 'UNKNOWN_WORKSPACE' });
      });
    });

    it('passes only PATH, HOME, inheritEnv and the workspace env to the process', async () => {
      const dir = makeWorkspace({ tools: ['envtool'] }, {
        'envtool.py': 'import os\ndef register(mcp):\n    @mcp.tool\n    def env(name: str) -> str:\n        return os.environ.get(name, "<unset>")\n',
      });
      process.env.FASTMCP_BRIDGE_TEST_SECRET = 'do-not-leak';
      process.env.FASTMCP_BRIDGE_TEST_SHARED = 'shared';
      const options = { workspaces: { e: { dir, env: { OWN: 'own' }, inheritEnv: ['FASTMCP_BRIDGE_TEST_SHARED'] } } };
      try {
        await withBridge(options, async (bridge) => {
          const get = async (name) =>
            (await bridge.call('e', 'tools/call', { name: 'env', arguments: { name } })).structuredContent.result;
          assert.equal(await get('FASTMCP_BRIDGE_TEST_SECRET'), '<unset>');
          assert.equal(await get('FASTMCP_BRIDGE_TEST_SHARED'), 'shared');
          assert.equal(await get('OWN'), 'own');
          assert.equal(await get('PATH'), process.env.PATH);
        });
      } finally {
        delete process.env.FASTMCP_BRIDGE_TEST_SECRET;
        delete process.env.FASTMCP_BRIDGE_TEST_SHARED;
      }
    });

    it('leaves no Python process behind when the Node process is SIGKILLed', async () => {
      const script = `
        import { Bridge } from ${JSON.stringify(pathToFileURL(path.join(repoDir, 'index.js')).href)};
        const dir = ${JSON.stringify(labDir)};
        const bridge = new Bridge({ launcher: ${JSON.stringify(launcher)}, workspaces: { a: { dir }, b: { dir } } });
        await Promise.all([bridge.start('a'), bridge.start('b')]);
        console.log(JSON.stringify(bridge.workspaces().map((w) => w.pid)));
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: repoDir,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const [line] = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value]);
      // The workspaces, and with the fork launcher the fork server (a child
      // of the Node process, as spawned workspaces are).
      const pids = [...new Set([...JSON.parse(line), ...childrenOf(child.pid)])];
      assert.equal(pids.length, launcher === 'fork' ? 3 : 2, String(pids));
      assert.ok(pids.every(isAlive));
      child.kill('SIGKILL');
      await eventually(() => pids.every((pid) => !isAlive(pid)), 2000);
    });
  });


  describe(`unix socket transport (launcher: ${launcher})`, () => {
    it('serves over a socket in a private directory and removes both on close', async () => {
      const bridge = new Bridge({ launcher, transport: 'unix', workspaces: { lab: { dir: labDir } } });
      await bridge.start('lab');
      const { pid } = bridge.status('lab');
      const path_ = socketPathOf(pid);
      assert.ok(path_?.endsWith('.sock'), String(path_));
      assert.equal(statSync(path.dirname(path_)).mode & 0o777, 0o700);
      assert.ok(statSync(path_).isSocket());
      const result = await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: 'over uds' } });
      assert.equal(result.content[0].text, 'over uds');
      await bridge.close();
      assert.equal(existsSync(path_), false);
      assert.equal(existsSync(path.dirname(path_)), false);
    });
  });

  describe(`many workspaces (launcher: ${launcher})`, () => {
    it('stops a workspace idle for idleTimeoutMs; its next call starts it again', async () => {
      await withBridge({ workspaces: { lab: { dir: labDir, idleTimeoutMs: 300 } } }, async (bridge) => {
        await bridge.call('lab', 'tools/list');
        const { pid } = bridge.status('lab');
        await eventually(() => bridge.status('lab').state === 'stopped', 10_000);
        assert.equal(isAlive(pid), false);
        assert.ok(bridge.events('lab').some((e) => e.type === 'idle_stop'));
        await bridge.call('lab', 'tools/list');
        assert.equal(bridge.status('lab').state, 'ready');
      });
    });

    it('with maxRunning 2 and 4 workspaces, stops the least recently used idle one to make room', async () => {
      const workspaces = Object.fromEntries(['w1', 'w2', 'w3', 'w4'].map((id) => [id, { dir: labDir }]));
      await withBridge({ maxRunning: 2, workspaces }, async (bridge) => {
        await bridge.call('w1', 'tools/list');
        await bridge.call('w2', 'tools/list');
        await bridge.call('w1', 'tools/list'); // w2 is now the least recently used
        await bridge.call('w3', 'tools/list');
        const running = () => bridge.workspaces().filter((w) => w.state === 'ready').map((w) => w.id);
        assert.deepEqual(running(), ['w1', 'w3']);
        // A busy workspace is not evicted: w4 waits until w1's call ends.
        const busy = bridge.call('w1', 'tools/call', { name: 'sleep', arguments: { seconds: 1 } });
        await eventually(() => bridge.metrics('w1').inFlight === 1);
        await bridge.call('w3', 'tools/list');
        await bridge.call('w4', 'tools/list');
        assert.deepEqual(running(), ['w1', 'w4']);
        await busy;
        assert.ok(bridge.events().some((e) => e.type === 'evicted' && e.workspaceId === 'w2'));
      });
    });

    it('adds and removes workspaces at run time', async () => {
      await withBridge({ workspaces: {} }, async (bridge) => {
        bridge.addWorkspace('late', { dir: labDir });
        assert.deepEqual(bridge.workspaceIds, ['late']);
        assert.throws(() => bridge.addWorkspace('late', { dir: labDir }), { code: 'INVALID_ARGUMENT' });
        assert.throws(() => bridge.addWorkspace('../etc', { dir: labDir }), { code: 'INVALID_ARGUMENT' });
        await bridge.call('late', 'tools/list');
        const { pid } = bridge.status('late');
        await bridge.removeWorkspace('late', { graceMs: 500 });
        assert.equal(isAlive(pid), false);
        await assert.rejects(bridge.call('late', 'tools/list'), { code: 'UNKNOWN_WORKSPACE' });
        await assert.rejects(bridge.removeWorkspace('late'), { code: 'UNKNOWN_WORKSPACE' });
      });
    });

    it('samples RSS and CPU (and a forked process\'s private memory), and restarts a process over maxMemoryMb', async () => {
      const options = { workspaces: { lab: { dir: labDir, healthIntervalMs: 200 }, tight: { dir: labDir, healthIntervalMs: 200, maxMemoryMb: 5 } } };
      await withBridge(options, async (bridge) => {
        await Promise.all([bridge.start('lab'), bridge.start('tight')]);
        await eventually(() => bridge.status('lab').rssBytes > 10 * 1024 * 1024);
        assert.equal(typeof bridge.status('lab').cpuPercent, 'number');
        if (launcher === 'fork') {
          // Its resident memory counts the pages it shares with the fork server.
          await eventually(() => bridge.status('lab').ussBytes > 0);
          const { ussBytes, rssBytes } = bridge.status('lab');
          assert.ok(ussBytes < rssBytes, `USS ${ussBytes} >= RSS ${rssBytes}`);
        } else {
          assert.equal(bridge.status('lab').ussBytes ?? null, null);
        }
        await eventually(() => bridge.events('tight').some((e) => e.type === 'memory_restart'));
        await eventually(() => bridge.status('tight').restarts >= 1);
      });
    });
  });
}
