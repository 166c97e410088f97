// Per-workspace OS isolation (`isolation`) against real workspace processes
// running as users of their own, with real resource limits and real
// control groups: tool code of one workspace (tests/workspaces/isolation)
// tries to read another workspace's file, to fork until it cannot, to fill
// 2 GiB under a 256 MiB limit, to spin past a CPU limit; each attempt is
// denied or contained, reaches the caller as documented, and the other
// workspace keeps answering throughout. Every case runs with both
// launchers.
//
// Needs Linux and root (changing a process's user needs it), and the
// venv that `npm test`'s setup makes with the system's interpreter (the
// workspaces' users must be able to read their interpreter). Elsewhere
// the suite is skipped, saying why.
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';

import { isolationVenvDir } from '../scripts/lib/python.js';
import { eventually, repoDir } from './helpers.js';

const python = path.join(isolationVenvDir(), 'bin', 'python');
const skip =
  process.platform !== 'linux'
    ? 'isolation is Linux only'
    : process.getuid() !== 0
      ? 'changing a workspace process to another user needs root'
      : !existsSync(python)
        ? `no isolation venv at ${isolationVenvDir()} (npm test's setup makes it when run as root)`
        : false;

const UID_BASE = 201_000;

function onPath(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/** The workspace directories the tests made, removed after them. */
const made = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the isolation workspace in a directory of its own (the bridge hands it to the workspace's user). */
function escapeWorkspace(files = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-iso-'));
  made.push(dir);
  cpSync(path.join(repoDir, 'tests', 'workspaces', 'isolation'), dir, {
    recursive: true,
    filter: (src) => !src.includes('__pycache__'),
  });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function tool(bridge, id, name, args = {}) {
  const result = await bridge.call(id, 'tools/call', { name, arguments: args }, { timeoutMs: 60_000 });
  assert.equal(result.isError, false, JSON.stringify(result));
  return result.structuredContent?.result ?? result.structuredContent;
}

/** This process's control group directories of the bridge's workspaces (v1: per controller). */
function bridgeCgroupDirs() {
  const found = [];
  for (const line of readFileSyncSafe('/proc/self/cgroup').split('\n')) {
    const [, controllers, own] = line.split(':');
    if (own === undefined) continue;
    for (const controller of controllers ? controllers.split(',') : ['']) {
      const dir = path.join('/sys/fs/cgroup', controller, own, `fastmcp-bridge-${process.pid}`);
      if (existsSync(dir)) found.push(dir);
    }
  }
  return found;
}

function readFileSyncSafe(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

for (const launcher of ['spawn', 'fork']) {
  describe(`isolation (${launcher})`, { skip }, () => {
    it('runs each workspace as a user of its own that cannot read another workspace\'s files', async () => {
      const a = escapeWorkspace();
      const b = escapeWorkspace({ 'secret.txt': 'b only\n' });
      const bridge = new Bridge({
        python,
        launcher,
        isolation: { user: 'auto', uidBase: UID_BASE },
        workspaces: { a: { dir: a }, b: { dir: b } },
      });
      try {
        const [whoA, whoB] = await Promise.all([tool(bridge, 'a', 'whoami'), tool(bridge, 'b', 'whoami')]);
        assert.notEqual(whoA.uid, whoB.uid);
        for (const [who, dir] of [
          [whoA, a],
          [whoB, b],
        ]) {
          assert.ok(who.uid >= UID_BASE && who.uid < UID_BASE + 2, `uid ${who.uid}`);
          assert.equal(who.gid, who.uid);
          assert.deepEqual(who.groups, []);
          assert.equal(who.home, dir);
          assert.equal(who.cwd, dir);
          const stat = statSync(dir);
          assert.equal(stat.uid, who.uid, `${dir} is not owned by its workspace's user`);
          assert.equal(stat.mode & 0o777, 0o700);
        }
        assert.equal(await tool(bridge, 'b', 'read_file', { path: path.join(b, 'secret.txt') }), 'b only\n');
        const stolen = await tool(bridge, 'a', 'read_file', { path: path.join(b, 'secret.txt') });
        assert.match(stolen, /^error: PermissionError/);
        const planted = await tool(bridge, 'a', 'write_file', { path: path.join(b, 'planted.txt'), text: 'x' });
        assert.match(planted, /^error: PermissionError/);
        assert.equal(existsSync(path.join(b, 'planted.txt')), false);
      } finally {
        await bridge.close();
      }
    });

    it('serves a workspace of its own user over a Unix socket in a directory of that user, removed with the bridge', async () => {
      const socketDirs = () => new Set(readdirSync(os.tmpdir()).filter((name) => name.startsWith(`fastmcp-bridge-${process.pid}-`)));
      const before = socketDirs();
      const bridge = new Bridge({
        python,
        launcher,
        transport: 'unix',
        workspaces: { a: { dir: escapeWorkspace(), isolation: { user: 'auto', uidBase: UID_BASE + 30 } } },
      });
      try {
        assert.ok((await tool(bridge, 'a', 'whoami')).uid >= UID_BASE + 30);
        const [created] = [...socketDirs()].filter((name) => !before.has(name));
        const own = readdirSync(path.join(os.tmpdir(), created));
        assert.equal(own.length, 1);
        const ownDir = path.join(os.tmpdir(), created, own[0]);
        assert.equal(statSync(ownDir).mode & 0o777, 0o700);
        assert.ok(statSync(ownDir).uid >= UID_BASE + 30);
        assert.deepEqual(readdirSync(ownDir), ['hub.sock']);
      } finally {
        await bridge.close();
      }
      assert.deepEqual([...socketDirs()].filter((name) => !before.has(name)), []);
    });

    it('contains a fork bomb with the control group\'s process limit and keeps the workspace up', async () => {
      const bridge = new Bridge({
        python,
        launcher,
        workspaces: {
          bomb: { dir: escapeWorkspace(), isolation: { user: 'auto', uidBase: UID_BASE + 10, pids: 64 } },
          other: { dir: escapeWorkspace(), isolation: { user: 'auto', uidBase: UID_BASE + 10 } },
        },
      });
      try {
        await tool(bridge, 'other', 'whoami');
        const [bomb, otherWho] = await Promise.all([tool(bridge, 'bomb', 'fork_until_refused'), tool(bridge, 'other', 'whoami')]);
        assert.ok(bomb.forked < 64, `forked ${bomb.forked}`);
        assert.match(bomb.error, /BlockingIOError|EAGAIN|Resource temporarily unavailable/);
        assert.ok(otherWho.uid >= UID_BASE + 10);
        // The workspace itself is still up, and the limit was what refused.
        assert.ok((await tool(bridge, 'bomb', 'whoami')).uid >= UID_BASE + 10);
        // A process that ends because a fork was refused is said to have hit the limit.
        await assert.rejects(tool(bridge, 'bomb', 'fork_until_refused', { exit_when_refused: true }), (err) => {
          assert.equal(err.code, 'WORKSPACE_CRASHED');
          assert.equal(err.data.reason, 'pids_limit');
          assert.equal(err.data.status, 'exit status 75');
          return true;
        });
      } finally {
        await bridge.close();
      }
    });

    it('contains a fork bomb with the user\'s process limit (RLIMIT_NPROC)', async () => {
      const bridge = new Bridge({
        python,
        launcher,
        workspaces: { bomb: { dir: escapeWorkspace(), isolation: { user: 'auto', uidBase: UID_BASE + 20, processes: 40 } } },
      });
      try {
        const limits = await tool(bridge, 'bomb', 'limits');
        assert.equal(limits.RLIMIT_NPROC, 40);
        const bomb = await tool(bridge, 'bomb', 'fork_until_refused');
        assert.ok(bomb.forked < 40, `forked ${bomb.forked}`);
        assert.match(bomb.error, /BlockingIOError|EAGAIN|Resource temporarily unavailable/);
      } finally {
        await bridge.close();
      }
    });

    it('ends a workspace that fills 2 GiB under a 256 MiB limit with WORKSPACE_CRASHED memory_limit, restarts it, and others keep answering', async () => {
      const bridge = new Bridge({
        python,
        launcher,
        workspaces: {
          hog: { dir: escapeWorkspace(), isolation: { memoryMb: 256 } },
          other: { dir: escapeWorkspace() },
        },
      });
      try {
        await Promise.all([tool(bridge, 'hog', 'whoami'), tool(bridge, 'other', 'whoami')]);
        const hog = tool(bridge, 'hog', 'allocate', { mb: 2048 });
        const meanwhile = tool(bridge, 'other', 'allocate', { mb: 64 });
        await assert.rejects(hog, (err) => {
          assert.equal(err.code, 'WORKSPACE_CRASHED');
          assert.equal(err.data.reason, 'memory_limit');
          assert.equal(err.data.status, 'signal 9');
          return true;
        });
        assert.equal(await meanwhile, 'allocated 64 MiB');
        // The call may fail (its connection dropped) before the supervisor has seen the exit.
        await eventually(() => bridge.events('hog').some((e) => e.type === 'crash'));
        const crash = bridge.events('hog').find((e) => e.type === 'crash');
        assert.equal(crash.reason, 'memory_limit');
        assert.ok(bridge.logs('hog').some((l) => l.line.includes('memory_limit')));
        // Restarted with backoff, as after any crash; within its limit it works.
        assert.equal(await tool(bridge, 'hog', 'allocate', { mb: 64 }), 'allocated 64 MiB');
      } finally {
        await bridge.close();
      }
      // Removed as each process's handle goes, which may be just after close resolves.
      await eventually(() => bridgeCgroupDirs().length === 0, 5000);
    });

    it('refuses an allocation beyond the address space limit with MemoryError, and the workspace stays up', async () => {
      const bridge = new Bridge({
        python,
        launcher,
        workspaces: { capped: { dir: escapeWorkspace(), isolation: { addressSpaceMb: 1024, openFiles: 256 } } },
      });
      try {
        const limits = await tool(bridge, 'capped', 'limits');
        assert.equal(limits.RLIMIT_AS, 1024 * 1024 * 1024);
        assert.equal(limits.RLIMIT_NOFILE, 256);
        assert.equal(await tool(bridge, 'capped', 'allocate', { mb: 2048 }), 'error: MemoryError');
        assert.equal(await tool(bridge, 'capped', 'allocate', { mb: 64 }), 'allocated 64 MiB');
        assert.equal(bridge.events('capped').filter((e) => e.type === 'crash').length, 0);
      } finally {
        await bridge.close();
      }
    });

    it('ends a workspace past its CPU time with WORKSPACE_CRASHED cpu_limit, and throttles one over its CPU share', async () => {
      const bridge = new Bridge({
        python,
        launcher,
        workspaces: {
          spinner: { dir: escapeWorkspace(), isolation: { cpuSeconds: 2 } },
          throttled: { dir: escapeWorkspace(), isolation: { cpuPercent: 20 } },
          other: { dir: escapeWorkspace() },
        },
      });
      try {
        await Promise.all(['spinner', 'throttled', 'other'].map((id) => tool(bridge, id, 'whoami')));
        const spinning = tool(bridge, 'spinner', 'spin', { seconds: 30 });
        const throttled = tool(bridge, 'throttled', 'spin', { seconds: 2 });
        assert.equal((await tool(bridge, 'other', 'whoami')).uid, 0);
        await assert.rejects(spinning, (err) => {
          assert.equal(err.code, 'WORKSPACE_CRASHED');
          assert.equal(err.data.reason, 'cpu_limit');
          assert.equal(err.data.status, 'signal 24');
          return true;
        });
        // 20% of a core: about 0.4 s of CPU in 2 s (the first period may run unthrottled).
        const share = await throttled;
        assert.ok(share.cpu < share.wall * 0.5, `got ${share.cpu.toFixed(2)} s of CPU in ${share.wall.toFixed(2)} s`);
      } finally {
        await bridge.close();
      }
      // Removed as each process's handle goes, which may be just after close resolves.
      await eventually(() => bridgeCgroupDirs().length === 0, 5000);
    });

    it('keeps a workspace with network none or loopback off the machine\'s network, and the others on it', async () => {
      const server = net.createServer((socket) => socket.end());
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address();
      const bridge = new Bridge({
        python,
        launcher,
        transport: 'unix',
        workspaces: {
          offline: { dir: escapeWorkspace(), isolation: { network: 'none' } },
          local: { dir: escapeWorkspace(), isolation: { network: 'loopback' } },
          online: { dir: escapeWorkspace() },
        },
      });
      try {
        assert.equal(await tool(bridge, 'online', 'connect', { port }), 'connected');
        assert.match(await tool(bridge, 'offline', 'connect', { port }), /^error: /);
        assert.match(await tool(bridge, 'local', 'connect', { port }), /^error: ConnectionRefusedError/);
        // Its own loopback: up with 'loopback', down with 'none'.
        assert.equal(await tool(bridge, 'local', 'loopback_echo'), 'echoed');
        assert.match(await tool(bridge, 'offline', 'loopback_echo'), /^error: /);
        assert.equal(await tool(bridge, 'online', 'loopback_echo'), 'echoed');
      } finally {
        await bridge.close();
        server.close();
      }
    });
  });
}


describe('isolation: bubblewrap sandbox', { skip: skip || (!onPath('bwrap') && 'no bwrap (the bubblewrap package; npm test\'s setup installs it as root)') }, () => {
  it('lets a sandboxed workspace write only its own directory and a private /tmp, and runs it spawned', async () => {
    const a = escapeWorkspace();
    const b = escapeWorkspace({ 'secret.txt': 'b only\n' });
    const marker = `fastmcp-bridge-sandbox-${process.pid}`;
    // A world-writable directory outside /tmp: the user alone would not keep a workspace out.
    const open = `/run/${marker}`;
    mkdirSync(open);
    chmodSync(open, 0o777);
    const bridge = new Bridge({
      python,
      launcher: 'fork',
      isolation: { sandbox: 'bubblewrap', user: 'auto', uidBase: UID_BASE + 40 },
      // b over a Unix socket: its directory, inside the bridge's socket directory under /tmp, is bound into the sandbox's own /tmp.
      workspaces: { a: { dir: a }, b: { dir: b, transport: 'unix' } },
    });
    try {
      const who = await tool(bridge, 'a', 'whoami');
      assert.ok(who.uid >= UID_BASE + 40);
      assert.deepEqual(who.groups, []);
      assert.equal(who.cwd, a);
      // Spawned (bwrap is the bridge's child), though the bridge's launcher is 'fork'.
      const pid = bridge.status('a').pid;
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^bwrap\0/);
      assert.equal(await tool(bridge, 'a', 'write_file', { path: path.join(a, 'mine.txt'), text: 'x' }), 'written');
      assert.equal(readFileSync(path.join(a, 'mine.txt'), 'utf8'), 'x');
      for (const outside of [`${open}/escape.txt`, '/etc/fastmcp-bridge-escape', path.join(repoDir, 'escape.txt'), path.join(b, 'planted.txt')]) {
        assert.match(await tool(bridge, 'a', 'write_file', { path: outside, text: 'x' }), /^error: /, outside);
        assert.equal(existsSync(outside), false, outside);
      }
      // /tmp and /var/tmp are the sandbox's own: written inside, absent outside.
      for (const dir of ['/tmp', '/var/tmp']) {
        assert.equal(await tool(bridge, 'a', 'write_file', { path: `${dir}/${marker}`, text: 'x' }), 'written');
        assert.equal(existsSync(`${dir}/${marker}`), false);
      }
      assert.match(await tool(bridge, 'a', 'read_file', { path: path.join(b, 'secret.txt') }), /^error: /);
      assert.equal(await tool(bridge, 'b', 'read_file', { path: path.join(b, 'secret.txt') }), 'b only\n');
    } finally {
      await bridge.close();
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('names the CPU limit that ended a sandboxed workspace, though bwrap reports the signal as an exit status', async () => {
    const bridge = new Bridge({
      python,
      transport: 'unix',
      workspaces: { spinner: { dir: escapeWorkspace(), isolation: { sandbox: 'bubblewrap', network: 'none', cpuSeconds: 2 } } },
    });
    try {
      await assert.rejects(tool(bridge, 'spinner', 'spin', { seconds: 30 }), (err) => {
        assert.equal(err.code, 'WORKSPACE_CRASHED');
        assert.equal(err.data.reason, 'cpu_limit');
        assert.equal(err.data.status, 'exit status 152');
        return true;
      });
      assert.equal((await tool(bridge, 'spinner', 'whoami')).uid, 0);
    } finally {
      await bridge.close();
    }
  });
});

describe('isolation options', () => {
  it('refuses unknown keys, bad values and processes without user', () => {
    assert.throws(() => new Bridge({ isolation: { users: 1 } }), { code: 'INVALID_ARGUMENT', message: /isolation: unknown option "users"/ });
    assert.throws(() => new Bridge({ isolation: { user: 'nobody' } }), { code: 'INVALID_ARGUMENT', message: /user must be a uid/ });
    assert.throws(() => new Bridge({ isolation: { user: 0 } }), { code: 'INVALID_ARGUMENT', message: /must not be 0/ });
    assert.throws(() => new Bridge({ isolation: { memoryMb: 0 } }), { code: 'INVALID_ARGUMENT', message: /memoryMb must be at least 1/ });
    assert.throws(() => new Bridge({ isolation: { processes: 10 } }), { code: 'INVALID_ARGUMENT', message: /processes needs user/ });
    assert.throws(() => new Bridge({ isolation: { network: 'offline' } }), { code: 'INVALID_ARGUMENT', message: /network must be 'host', 'loopback' or 'none'/ });
    assert.throws(() => new Bridge({ isolation: { sandbox: 'docker' } }), { code: 'INVALID_ARGUMENT', message: /sandbox must be 'bubblewrap'/ });
    assert.throws(
      () => new Bridge({ isolation: { user: 'auto' }, workspaces: { w: { dir: '/tmp', isolation: { pids: 1.5 } } } }),
      { code: 'INVALID_ARGUMENT', message: /pids must be a whole number/ },
    );
  });
});
