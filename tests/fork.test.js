// The fork launcher (`launcher: 'fork'`) against real forked hub processes:
// each child gets exactly its workspace's environment, directory and
// modules; the fork server's death leaves running workspaces up and the
// next start forks from a new one; a tool module that raises at import
// fails its own workspace with the traceback in its logs. The supervision
// tests that run with both launchers are in supervision.test.js.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';

import { childPids, eventually, isAlive, makeWorkspace } from './helpers.js';

/** A workspace whose `probe` tool reports its environment, directory and module. */
function probeWorkspace(answer) {
  return makeWorkspace(
    { tools: ['probe_tools'] },
    {
      'probe_tools.py': `
import os, sys
import same_name

def register(mcp):
    @mcp.tool
    def probe() -> dict:
        return {
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "same_name": same_name.ANSWER,
            "pid": os.getpid(),
            "ppid": os.getppid(),
        }
`,
      'same_name.py': `ANSWER = ${JSON.stringify(answer)}\n`,
    },
  );
}

async function probe(bridge, id) {
  const result = await bridge.call(id, 'tools/call', { name: 'probe', arguments: {} });
  return result.structuredContent;
}

/** The pid of this process's one fork server. */
function forkServerPid() {
  const servers = childPids(process.pid, 'fastmcp_workspace[.]zygote');
  assert.equal(servers.length, 1, `fork servers: ${servers}`);
  return servers[0];
}

describe('fork launcher', () => {
  it('gives each forked workspace exactly its own environment, working directory and modules', async () => {
    process.env.FASTMCP_BRIDGE_TEST_NODE_ONLY = 'node';
    const a = probeWorkspace('from a');
    const b = probeWorkspace('from b');
    const bridge = new Bridge({
      launcher: 'fork',
      workspaces: { a: { dir: a, env: { ONLY_A: 'yes' } }, b: { dir: b } },
    });
    try {
      const [fromA, fromB] = await Promise.all([probe(bridge, 'a'), probe(bridge, 'b')]);
      assert.equal(fromA.env.ONLY_A, 'yes');
      assert.equal(fromB.env.ONLY_A, undefined, 'a variable of one workspace reached another');
      // Neither this process's variables nor the fork server's own reach a child.
      for (const seen of [fromA, fromB]) {
        assert.equal(seen.env.FASTMCP_BRIDGE_TEST_NODE_ONLY, undefined);
        const expected = ['PATH', 'PYTHONUNBUFFERED', ...(process.env.HOME ? ['HOME'] : []), ...(seen === fromA ? ['ONLY_A'] : [])];
        assert.deepEqual(Object.keys(seen.env).sort(), expected.sort());
        assert.equal(seen.cwd, process.cwd());
      }
      // Same module name, each from its own directory.
      assert.equal(fromA.same_name, 'from a');
      assert.equal(fromB.same_name, 'from b');
      // Both are children of one fork server, not of this process.
      const zygote = forkServerPid();
      assert.equal(fromA.ppid, zygote);
      assert.equal(fromB.ppid, zygote);
      assert.notEqual(fromA.pid, fromB.pid);
    } finally {
      delete process.env.FASTMCP_BRIDGE_TEST_NODE_ONLY;
      await bridge.close();
    }
  });

  it('keeps running workspaces up when the fork server is SIGKILLed, and forks the next from a new one', async () => {
    const dir = probeWorkspace('x');
    const bridge = new Bridge({ launcher: 'fork', workspaces: { a: { dir }, b: { dir } } });
    try {
      const before = await probe(bridge, 'a');
      const zygote = forkServerPid();
      process.kill(zygote, 'SIGKILL');
      await eventually(() => !isAlive(zygote));
      // The running workspace is not touched...
      const after = await probe(bridge, 'a');
      assert.equal(after.pid, before.pid);
      assert.equal(bridge.status('a').restarts, 0);
      // ...and the next start forks from a new fork server.
      const fromB = await probe(bridge, 'b');
      const next = forkServerPid();
      assert.notEqual(next, zygote);
      assert.equal(fromB.ppid, next);
      // A workspace forked by the dead one is still supervised: its crash is seen.
      process.kill(before.pid, 'SIGKILL');
      await eventually(() => bridge.events('a').some((e) => e.type === 'crash'));
      const again = await probe(bridge, 'a');
      assert.notEqual(again.pid, before.pid);
      assert.equal(again.ppid, next);
      const stopped = [before.pid, after.pid, fromB.pid, again.pid];
      await bridge.close();
      await eventually(() => stopped.every((pid) => !isAlive(pid)) && !isAlive(next));
    } finally {
      await bridge.close();
    }
  });

  it('with a warm pool, starts a workspace in a child forked ahead, with its own environment, and leaves no pooled child when the bridge closes', async () => {
    const a = probeWorkspace('from a');
    const b = probeWorkspace('from b');
    const bridge = new Bridge({ launcher: 'fork', prewarm: 2, workspaces: { a: { dir: a, env: { ONLY_A: 'yes' } }, b: { dir: b } } });
    let pooled = [];
    try {
      const fromA = await probe(bridge, 'a');
      const zygote = forkServerPid();
      // The pool is filled again after each start: two children besides a's.
      await eventually(() => childPids(zygote, 'zygote').filter((pid) => pid !== fromA.pid).length === 2);
      pooled = childPids(zygote, 'zygote').filter((pid) => pid !== fromA.pid);
      const fromB = await probe(bridge, 'b');
      assert.ok(pooled.includes(fromB.pid), `b (${fromB.pid}) was not one of the pooled children ${pooled}`);
      assert.equal(fromB.ppid, zygote);
      assert.equal(fromA.env.ONLY_A, 'yes');
      assert.equal(fromB.env.ONLY_A, undefined);
      assert.equal(fromB.same_name, 'from b');
      pooled = childPids(zygote, 'zygote');
    } finally {
      await bridge.close();
    }
    await eventually(() => pooled.every((pid) => !isAlive(pid)));
  });

  it('fails a workspace whose tool module raises at import with START_FAILED and the traceback in its logs; others keep working', async () => {
    const broken = makeWorkspace({ tools: ['broken_tools'] }, { 'broken_tools.py': 'def helper():\n    raise RuntimeError("boom at import")\n\nhelper()\n' });
    const good = probeWorkspace('good');
    const bridge = new Bridge({ launcher: 'fork', workspaces: { broken: { dir: broken, maxRestarts: 0 }, good: { dir: good } } });
    try {
      await assert.rejects(bridge.start('broken'), (err) => {
        assert.equal(err.code, 'START_FAILED');
        return true;
      });
      const lines = bridge.logs('broken', { lines: 100 }).map((l) => l.line);
      const text = lines.join('\n');
      assert.match(text, /Traceback \(most recent call last\)/);
      assert.match(text, /RuntimeError: boom at import/);
      assert.match(text, /in helper/);
      const seen = await probe(bridge, 'good');
      assert.equal(seen.same_name, 'good');
    } finally {
      await bridge.close();
    }
  });

  it('is refused for a stdio workspace, whose server is always spawned', () => {
    assert.throws(
      () => new Bridge({ workspaces: { s: { transport: 'stdio', command: 'true', launcher: 'fork' } } }),
      (err) => err.code === 'INVALID_ARGUMENT' && /launcher applies to hub workspaces/.test(err.message),
    );
    assert.throws(() => new Bridge({ launcher: 'zygote' }), (err) => err.code === 'INVALID_ARGUMENT' && /'spawn' or 'fork'/.test(err.message));
  });
});
