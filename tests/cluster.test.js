// Bridge nodes sharing workspaces through etcd (option `cluster`): a real
// etcd (the system's package, started here on loopback), three nodes each
// with its Express router on loopback, 30 workspaces. Every workspace
// answers on every node, exactly one node runs its process, and a node that
// leaves hands its workspaces to the others.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import express from 'express';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { ownerOf } from '../cluster.js';
import { eventually, isAlive, labDir, repoDir } from './helpers.js';
import readline from 'node:readline';

const WAIT_MS = 60_000;
const SECRET = 'a-shared-secret-of-this-test';
const WORKSPACES = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`ws-${i}`, { dir: labDir }]));

/** `n` distinct free TCP ports on loopback (all bound at once, then released). */
async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, async () => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** etcd on loopback, in a temporary data directory, killed by `stop()`. */
async function startEtcd() {
  const probe = spawnSync('etcd', ['--version']);
  assert.equal(probe.error, undefined, 'the cluster tests need etcd: apt-get install etcd-server (npm test installs it when run as root)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-etcd-'));
  const [client, peer] = await freePorts(2);
  const url = `http://127.0.0.1:${client}`;
  const child = spawn('etcd', [
    '--data-dir', dir, '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `default=http://127.0.0.1:${peer}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));
  // Never outlive the test process, even killed by a failed assertion's aftermath.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  await eventually(() => log.includes('ready to serve client requests') || child.exitCode !== null, 20_000);
  assert.equal(child.exitCode, null, `etcd exited: ${log.slice(-2000)}`);
  return {
    url,
    child,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT'); // a paused etcd acts on nothing else
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pauses etcd (SIGSTOP) for `ms`: no answer, as when the network to it is down. */
async function pauseEtcd(etcd, ms) {
  etcd.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, ms));
  etcd.child.kill('SIGCONT');
}

/** One node: an Express app on loopback with the router, and its Bridge in the cluster. */
async function startNode(id, etcd) {
  const app = express();
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const bridge = new Bridge({
    cluster: { etcd: { endpoints: [etcd.url] }, node: { id, url }, secret: SECRET, leaseTtlS: 3, graceMs: 1000 },
    workspaces: WORKSPACES,
  });
  // Other nodes come with the cluster's secret; the test's own client with its token.
  const authenticate = (req) => bridge.cluster.authenticate(req) ?? (req.get('authorization') === 'Bearer public' ? { user: 'public' } : null);
  app.use(bridgeRouter(bridge, { authenticate, authorize: (principal, workspaceId) => bridge.cluster.accepts(principal, workspaceId) }));
  return {
    id,
    url,
    bridge,
    async close() {
      await bridge.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The ids of the nodes running `workspaceId`'s process (a pid of their own). */
const runners = (nodes, workspaceId) => nodes.filter((n) => {
  try {
    return n.bridge.status(workspaceId).pid !== null;
  } catch {
    return false; // not (or no longer) placed there
  }
}).map((n) => n.id);

/** Whether every node sees exactly these nodes as members and has placed every workspace by them. */
function settled(nodes) {
  const ids = nodes.map((n) => n.id).sort();
  return nodes.every((n) => {
    const seen = n.bridge.cluster.members().map((m) => m.id);
    return JSON.stringify(seen) === JSON.stringify(ids) && n.bridge.cluster.settled();
  });
}

/** `check` true within `ms`, an exception counting as false (e.g. a call during a move). */
const eventuallyOk = (check, ms) => eventually(async () => {
  try {
    return await check();
  } catch {
    return false;
  }
}, ms);

const echo = async (bridge, id, text) => (await bridge.call(id, 'tools/call', { name: 'echo', arguments: { text } })).content[0].text;

describe('cluster of bridge nodes over etcd', { timeout: 300_000 }, () => {
  let etcd;
  let nodes = [];

  before(async () => {
    etcd = await startEtcd();
    nodes = [];
    for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(id, etcd));
    await Promise.all(nodes.map((n) => n.bridge.cluster.ready));
    await eventually(() => settled(nodes), WAIT_MS);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await etcd?.stop();
  });

  it('checks the workspaces at once, on every node', () => {
    for (const [workspaces, says] of [[{ bad: { url: 'https://x.example/mcp' } }, /https is not supported/], [{ bad: {} }, /needs "dir"/]]) {
      assert.throws(
        () => new Bridge({ cluster: { etcd: { endpoints: [etcd.url] }, node: { id: 'nx', url: 'http://127.0.0.1:1' }, secret: SECRET }, workspaces }),
        (err) => err.code === 'INVALID_ARGUMENT' && says.test(err.message),
      );
    }
  });

  it('refuses a second node with an id in use, until that id is free', async () => {
    const errors = [];
    const twin = new Bridge({
      cluster: { etcd: { endpoints: [etcd.url] }, node: { id: 'n1', url: 'http://127.0.0.1:1' }, secret: SECRET, leaseTtlS: 3 },
      workspaces: WORKSPACES,
    });
    twin.on('cluster', (event) => event.type === 'cluster_error' && errors.push(event.error));
    try {
      await eventually(() => errors.some((e) => /in use/.test(e)), WAIT_MS);
      assert.equal(twin.workspaceIds.length, 0, 'the twin placed workspaces');
      assert.ok(settled(nodes), 'the twin moved something');
    } finally {
      await twin.close();
    }
  });

  it('places each workspace on one owner that every node agrees on, spread over the nodes', () => {
    const ids = nodes.map((n) => n.id);
    const owners = Object.keys(WORKSPACES).map((ws) => ownerOf(ws, ids));
    for (const node of nodes) {
      assert.deepEqual(Object.keys(WORKSPACES).map((ws) => node.bridge.cluster.owner(ws)), owners, node.id);
    }
    for (const id of ids) assert.ok(owners.includes(id), `${id} owns none of 30 workspaces`);
  });

  it('reaches every workspace from every node; exactly one node runs each one\'s process', async () => {
    for (const node of nodes) {
      await Promise.all(Object.keys(WORKSPACES).map(async (ws) => assert.equal(await echo(node.bridge, ws, `${node.id}:${ws}`), `${node.id}:${ws}`)));
    }
    for (const ws of Object.keys(WORKSPACES)) {
      assert.deepEqual(runners(nodes, ws), [nodes[0].bridge.cluster.owner(ws)], ws);
    }
  });

  it('serves an MCP client on any node\'s endpoint, relaying to the owner', async () => {
    const ws = Object.keys(WORKSPACES).find((id) => nodes[0].bridge.cluster.owner(id) !== 'n2');
    const client = new Client({ name: 'cluster-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${nodes[1].url}/workspaces/${ws}/mcp`), {
      requestInit: { headers: { authorization: 'Bearer public' } },
    }));
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'via n2' } });
      assert.equal(result.content[0].text, 'via n2');
    } finally {
      await client.close();
    }
    // Another node may reach only what this node runs: no relay loops.
    const notHere = Object.keys(WORKSPACES).find((id) => nodes[0].bridge.cluster.owner(id) !== 'n2');
    const relayed = await fetch(`${nodes[1].url}/workspaces/${notHere}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${SECRET}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    assert.equal(relayed.status, 403);
    await relayed.text();
    // Without the secret another node's endpoint is no way in.
    const refused = await fetch(`${nodes[1].url}/workspaces/${ws}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(refused.status, 401);
  });

  it('moves nothing when etcd is away for less than the lease TTL', async () => {
    const placed = [];
    const record = (event) => event.type?.startsWith('cluster_') && placed.push(event);
    for (const n of nodes) n.bridge.on('cluster', record);
    try {
      await pauseEtcd(etcd, 500); // TTL 3 s; the fence falls 2.25 s after the last keepalive, at most 1 s before the pause
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.deepEqual(placed, []);
      assert.ok(settled(nodes));
      for (const n of nodes) assert.equal(await echo(n.bridge, 'ws-0', 'still'), 'still');
    } finally {
      for (const n of nodes) n.bridge.off('cluster', record);
    }
  });

  it('hands a leaving node\'s workspaces to the others, and only those', async () => {
    const [n1, n2, n3] = nodes;
    const before = Object.fromEntries(Object.keys(WORKSPACES).map((ws) => [ws, n1.bridge.cluster.owner(ws)]));
    // A client of n2's endpoint on a workspace n3 owns: its MCP session ends with the move (404).
    const moving = Object.keys(WORKSPACES).find((ws) => before[ws] === 'n3');
    const url = `${n2.url}/workspaces/${moving}/mcp`;
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: 'Bearer public' };
    const init = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
    assert.equal(init.status, 200);
    const sessionId = init.headers.get('mcp-session-id');
    await init.text();
    await n3.close();
    nodes = [n1, n2];
    await eventually(() => settled(nodes), WAIT_MS);
    for (const [ws, owner] of Object.entries(before)) {
      const now = n1.bridge.cluster.owner(ws);
      if (owner !== 'n3') assert.equal(now, owner, `${ws} moved though its owner stayed`);
      assert.equal(await echo(n2.bridge, ws, 'after'), 'after');
      assert.equal(await echo(n1.bridge, ws, 'after'), 'after');
      assert.deepEqual(runners(nodes, ws), [now], ws);
    }
    const lost = await fetch(url, { method: 'POST', headers: { ...headers, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
    assert.equal(lost.status, 404, 'the moved workspace\'s MCP session is not lost');
    await lost.text();
  });

  it('gives a node that joins again its share back, and only that', async () => {
    const [n1, n2] = nodes;
    const n3 = await startNode('n3', etcd);
    nodes = [n1, n2, n3];
    await n3.bridge.cluster.ready;
    await eventually(() => settled(nodes), WAIT_MS);
    const ids = nodes.map((n) => n.id);
    for (const ws of Object.keys(WORKSPACES)) {
      const owner = ownerOf(ws, ids);
      assert.equal(n1.bridge.cluster.owner(ws), owner);
      assert.equal(await echo(n3.bridge, ws, 'rejoined'), 'rejoined');
      assert.equal(await echo(n1.bridge, ws, 'rejoined'), 'rejoined');
      await eventually(() => JSON.stringify(runners(nodes, ws)) === JSON.stringify([owner]), WAIT_MS);
    }
  });

  it('stops what it runs when etcd is away beyond the lease TTL, and places it all again once etcd is back', async () => {
    const lost = [];
    const record = (event) => event.type === 'cluster_fenced' && lost.push(event.nodeId);
    for (const n of nodes) n.bridge.on('cluster', record);
    try {
      const pausedAt = Date.now();
      const paused = pauseEtcd(etcd, 8000); // TTL 3 s
      await eventually(() => new Set(lost).size === nodes.length, 10_000);
      const fencedAfter = Date.now() - pausedAt;
      // A node that may have lost its lease runs nothing: another may own it by then.
      await eventually(() => Object.keys(WORKSPACES).every((ws) => runners(nodes, ws).length === 0), 5000);
      const stoppedAfter = Date.now() - pausedAt;
      console.log(`cluster etcd away: fenced ${fencedAfter} ms, every process stopped ${stoppedAfter} ms after etcd stopped answering (TTL 3000 ms)`);
      // Before etcd could expire a lease (TTL after the last keepalive, at most TTL/3 before the pause).
      assert.ok(fencedAfter < 3000, `fenced only after ${fencedAfter} ms`);
      await paused;
      // etcd back: it may answer a keepalive of a lease it then expires, so
      // a node may place, fence and join again before it settles.
      await eventuallyOk(async () => {
        for (const n of nodes) assert.equal(await echo(n.bridge, 'ws-1', 'back'), 'back');
        return settled(nodes);
      }, WAIT_MS);
    } finally {
      for (const n of nodes) n.bridge.off('cluster', record);
    }
  });
});

/** A node in a process of its own: its URL, and its process to kill. */
async function startNodeProcess(id, etcd) {
  const child = spawn(process.execPath, [path.join(repoDir, 'tests', 'fixtures', 'cluster-node.js'), id, etcd.url, JSON.stringify(WORKSPACES)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, CLUSTER_SECRET: SECRET },
  });
  const { url } = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node ${id} exited (${code})`)));
    readline.createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
  });
  return { id, url, child };
}

describe('a cluster node killed under load', { timeout: 300_000 }, () => {
  let etcd;
  let nodes = [];
  let killed;

  before(async () => {
    etcd = await startEtcd();
    nodes = [await startNode('n1', etcd), await startNode('n2', etcd)];
    killed = await startNodeProcess('n3', etcd);
    await eventually(() => nodes.every((n) => n.bridge.cluster.members().length === 3), WAIT_MS);
    await eventually(() => nodes.every((n) => Object.keys(WORKSPACES).every((ws) => n.bridge.hasWorkspace(ws))), WAIT_MS);
  });

  after(async () => {
    killed?.child.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.close()));
    await etcd?.stop();
  });

  it('fails only calls on the dead node\'s workspaces, which answer again on the survivors after the lease TTL; nothing orphaned', async () => {
    const [n1, n2] = nodes;
    const ids = Object.keys(WORKSPACES);
    const onN3 = ids.filter((ws) => n1.bridge.cluster.owner(ws) === 'n3');
    assert.ok(onN3.length > 0, 'n3 owns none');
    // Every workspace answers, n3's through it; its processes are n3's.
    for (const ws of ids) assert.equal(await echo(n1.bridge, ws, 'before'), 'before');
    const view = await (await fetch(`${killed.url}/workspaces`, { headers: { authorization: `Bearer ${SECRET}` } })).json();
    const n3Pids = view.workspaces.filter((w) => w.pid !== null).map((w) => w.pid);
    assert.equal(n3Pids.length, onN3.length);

    // Load through both survivors, on every workspace, while n3 dies.
    let stop = false;
    const failures = { own: 0, moved: 0 };
    let calls = 0;
    const loops = Array.from({ length: 8 }, (_, i) => (async () => {
      for (let k = i; !stop; k += 8) {
        const ws = ids[k % ids.length];
        const node = k % 2 ? n1 : n2;
        try {
          await echo(node.bridge, ws, 'load');
        } catch {
          failures[onN3.includes(ws) ? 'moved' : 'own'] += 1;
        }
        calls += 1;
      }
    })());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const killedAt = Date.now();
    killed.child.kill('SIGKILL');
    await eventually(() => nodes.every((n) => n.bridge.cluster.members().length === 2), WAIT_MS);
    let recovered;
    await eventuallyOk(async () => {
      for (const ws of onN3) await echo(n1.bridge, ws, 'back');
      recovered = Date.now();
      return true;
    }, WAIT_MS);
    stop = true;
    await Promise.all(loops);
    console.log(`cluster kill: ${calls} calls, ${failures.moved} failed on the dead node's ${onN3.length} workspaces, ${failures.own} on the others; answered again ${((recovered - killedAt) / 1000).toFixed(1)} s after the kill (lease TTL 3 s)`);
    assert.equal(failures.own, 0, 'calls on the survivors\' own workspaces failed');
    for (const ws of ids) assert.deepEqual(runners(nodes, ws), [n1.bridge.cluster.owner(ws)], ws);
    // The dead node's workspace processes ended with it.
    await eventually(() => n3Pids.every((pid) => !isAlive(pid)), WAIT_MS);
  });
});
