// Bridge nodes sharing workspaces through etcd (option `cluster` of Bridge).
//
// Every node is configured with the same workspaces. Each node holds a key
// under a lease of its own (`<prefix>nodes/<id>` → `{ id, url }`) and
// watches the prefix: the live members are the keys there. Each workspace
// has one owner among them, by rendezvous hashing (highest random weight)
// of the node ids and the workspace id: every node computes the same owner
// from the same member set, with no leader and no write per workspace, and
// a member joining or leaving moves only the workspaces it gains or had.
// The owner runs the workspace as configured; every other node reaches it
// as a remote workspace whose URL is the owner's MCP endpoint, with the
// cluster's secret as a bearer token. See docs/cluster.md.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';

import { bridgeError } from './errors.js';

const require = createRequire(import.meta.url);

/** Defaults of the `cluster` option. */
const DEFAULTS = { prefix: '/fastmcp-bridge/', leaseTtlS: 10, graceMs: 10_000 };
/** The workspace options a relay keeps: the request limits and the protocol. */
const REMOTE_KEYS = [
  'maxConcurrent', 'maxQueue', 'maxRetries', 'maxMessageBytes', 'healthIntervalMs', 'healthTimeoutMs', 'maxHealthFailures',
  'logLines', 'protocol',
];
/** A relay's timeout past the owner's own (ms): the owner answers its own timeout in time. */
const RELAY_TIMEOUT_MARGIN_MS = 5000;
/** The workspaces' default `timeoutMs` (docs/configuration.md). */
const DEFAULT_TIMEOUT_MS = 30_000;
const CLUSTER_KEYS = new Set(['etcd', 'node', 'secret', 'prefix', 'leaseTtlS', 'graceMs']);

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The owner of `workspaceId` among `nodeIds`: the node with the highest
 * weight `sha256(nodeId \n workspaceId)` (rendezvous hashing; ties, which
 * need equal digests, go to the smaller id). `undefined` without nodes.
 * @param {string} workspaceId
 * @param {Iterable<string>} nodeIds
 */
export function ownerOf(workspaceId, nodeIds) {
  let best;
  let bestWeight;
  for (const id of nodeIds) {
    const weight = createHash('sha256').update(`${id}\n${workspaceId}`).digest('hex');
    if (best === undefined || weight > bestWeight || (weight === bestWeight && id < best)) {
      best = id;
      bestWeight = weight;
    }
  }
  return best;
}

/** Checks the `cluster` option; throws INVALID_ARGUMENT naming what is wrong. */
export function checkClusterOptions(options) {
  const invalid = (message) => bridgeError('INVALID_ARGUMENT', `cluster: ${message}`);
  if (!isPlainObject(options)) throw invalid('must be an object');
  for (const key of Object.keys(options)) if (!CLUSTER_KEYS.has(key)) throw invalid(`unknown option ${JSON.stringify(key)}`);
  const endpoints = options.etcd?.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0 || !endpoints.every((e) => typeof e === 'string' && e !== '')) {
    throw invalid('etcd.endpoints must be a non-empty array of URLs (e.g. ["http://127.0.0.1:2379"])');
  }
  const { id, url } = options.node ?? {};
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) {
    throw invalid('node.id must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');
  }
  if (typeof url !== 'string' || !/^http:\/\/[^/?#]+(\/[^?#]*)?$/.test(url)) {
    throw invalid('node.url must be the http:// URL where this node\'s bridgeRouter is mounted (e.g. "http://10.0.0.7:3000")');
  }
  if (typeof options.secret !== 'string' || options.secret.length < 16) {
    throw invalid('secret must be a string of at least 16 characters, the same on every node');
  }
  for (const name of ['leaseTtlS', 'graceMs']) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < (name === 'leaseTtlS' ? 2 : 0))) {
      throw invalid(`${name} must be a whole number${name === 'leaseTtlS' ? ' >= 2' : ' >= 0'}`);
    }
  }
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || !options.prefix.endsWith('/'))) {
    throw invalid('prefix must be a string ending in "/"');
  }
  return { ...DEFAULTS, ...options, node: { id, url: url.replace(/\/+$/, '') } };
}

/**
 * One node's part of the cluster: its membership, and the placement of the
 * workspaces on its bridge.
 */
export class Cluster {
  #bridge;
  #options;
  #workspaces;
  #etcd;
  #lease;
  #watcher;
  /** Live members: node id → `{ id, url }`. */
  #members = new Map();
  /** Where each workspace is placed on this bridge: `<owner id> <owner url>`. */
  #placed = new Map();
  /** Reconciliations run one after another; how many are queued or running. */
  #reconciling = Promise.resolve();
  #queued = 0;
  #closed = false;
  /** Joined: this node's key is in etcd under its lease (or was, until fenced). */
  #joined = false;
  /** Fenced: nothing runs here until a keepalive succeeds again (see #armFence). */
  #fenced = true;
  #fenceTimer;
  /** Bumped when the placement must not go on (fence, lost lease, close). */
  #epoch = 0;
  #rejoining = false;
  #refreshes = 0;
  #applied = 0;
  #secretDigest;
  /** Resolves once the first placement is done. */
  ready;

  /**
   * @param {{ addWorkspace: Function, removeWorkspace: Function, hasWorkspace: Function, emit: Function }} bridge
   * @param {ReturnType<typeof checkClusterOptions>} options
   * @param {Record<string, object>} workspaces the cluster's workspaces, as configured
   */
  constructor(bridge, options, workspaces) {
    this.#bridge = bridge;
    this.#options = options;
    this.#workspaces = workspaces;
    this.#secretDigest = createHash('sha256').update(options.secret).digest();
    let Etcd3;
    try {
      ({ Etcd3 } = require('etcd3'));
    } catch (err) {
      throw bridgeError('INVALID_ARGUMENT', `cluster: the etcd3 package is not installed (npm install etcd3): ${err.message}`);
    }
    const { etcd, leaseTtlS } = options;
    // Every unary request has a deadline: a paused etcd must not hang a refresh or a close.
    const deadlineMs = Math.max(1000, leaseTtlS * 500);
    this.#etcd = new Etcd3({
      hosts: etcd.endpoints,
      auth: etcd.auth,
      credentials: etcd.credentials,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + deadlineMs }),
    });
    this.ready = this.#start();
    // A start that fails is reported by `ready` (and by calls, which wait on it).
    this.ready.catch(() => {});
  }

  /** This node's id. */
  get nodeId() {
    return this.#options.node.id;
  }

  /** The live members, sorted by id: `[{ id, url }]`. */
  members() {
    return [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** The node that owns `workspaceId` now, by this node's view of the members. */
  owner(workspaceId) {
    return ownerOf(workspaceId, this.#members.keys());
  }

  /**
   * Whether every workspace is placed as the current members say, with no
   * placement under way (for tests and readiness probes).
   */
  settled() {
    if (this.#queued > 0 || this.#fenced) return false;
    return Object.keys(this.#workspaces).every((id) => {
      const want = this.#want(id);
      return this.#placed.get(id) === want && this.#bridge.hasWorkspace(id) === (want !== undefined);
    });
  }

  /**
   * The principal of a request from another node of the cluster (its
   * `Authorization: Bearer <secret>`, compared in constant time), else
   * null: for the `authenticate` hook of the router the other nodes reach.
   * @param {import('express').Request} req
   */
  authenticate(req) {
    const header = req.get?.('authorization') ?? req.headers?.authorization ?? '';
    const digest = createHash('sha256').update(header.startsWith('Bearer ') ? header.slice(7) : '').digest();
    return timingSafeEqual(digest, this.#secretDigest) ? { clusterNode: true } : null;
  }

  /**
   * For the router's `authorize` hook: whether `principal` may reach
   * `workspaceId` as far as the cluster is concerned. Another node (the
   * principal `authenticate` gives it) may reach only the workspaces this
   * node runs, so that two nodes with stale views never relay to each other
   * in a loop: a relay refused (403) starts again with backoff until the
   * views agree. Any other principal: true (the app's own checks apply).
   */
  accepts(principal, workspaceId) {
    if (principal?.clusterNode !== true) return true;
    return !this.#fenced && this.#placed.get(workspaceId) === `${this.nodeId} ${this.#options.node.url}`;
  }

  async #start() {
    // The first join proves etcd answers; then the watch, then the placement.
    await this.#rejoin();
    if (this.#closed) return;
    await this.#watch();
    await this.#refresh();
  }

  /** Watches the members' keys; a watch etcd cancels (e.g. compacted) is made again. */
  async #watch() {
    for (let delay = 200; !this.#closed; delay = Math.min(delay * 2, 5000)) {
      try {
        const watcher = await this.#etcd.watch().prefix(`${this.#options.prefix}nodes/`).create();
        this.#watcher = watcher;
        watcher.on('put', () => this.#refresh());
        watcher.on('delete', () => this.#refresh());
        // Events missed while disconnected: read the members again.
        watcher.on('connected', () => this.#refresh());
        watcher.on('error', (err) => {
          this.#report(err);
          if (this.#watcher === watcher && !this.#closed) {
            watcher.cancel().catch(() => {});
            this.#watch();
          }
        });
        return;
      } catch (err) {
        this.#report(err);
        await sleep(delay);
      }
    }
  }

  /**
   * Joins, retrying with backoff until it has (one loop at a time), then
   * places the workspaces again.
   */
  async #rejoin() {
    if (this.#rejoining) return;
    this.#rejoining = true;
    try {
      for (let delay = 200; !this.#closed; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.#join();
          break;
        } catch (err) {
          this.#report(err);
          await sleep(delay);
        }
      }
    } finally {
      this.#rejoining = false;
    }
    if (this.#joined) await this.#refresh();
  }

  /**
   * Puts this node's key under a new lease, kept alive every TTL/3.
   *
   * Fencing: etcd may expire the lease TTL after it last renewed it, and the
   * other nodes then take this node's workspaces. So this node stops
   * running them first: `fenceMs` after the last keepalive it sent that
   * etcd answered (see #armFence).
   */
  async #join() {
    const { node, prefix, leaseTtlS } = this.#options;
    const lease = this.#etcd.lease(leaseTtlS);
    const sent = [];
    lease.on('keepaliveFired', () => sent.push(performance.now()));
    lease.on('keepaliveEstablished', () => (sent.length = 0));
    lease.on('keepaliveSucceeded', () => {
      const at = sent.shift() ?? performance.now();
      if (this.#lease !== lease || this.#closed) return;
      this.#armFence(at);
      if (this.#fenced) {
        this.#fenced = false;
        this.#refresh();
      }
    });
    // A failed grant emits 'lost' before the put rejects: only a joined lease counts.
    lease.on('lost', () => {
      if (this.#lease !== lease || this.#closed) return;
      this.#fence('cluster_lease_lost');
      this.#rejoin();
    });
    const granted = performance.now();
    const leaseId = await lease.grant();
    // Create-only: a node id in use (another node's, or this node's previous
    // run until its lease expires) is not taken over.
    const key = `${prefix}nodes/${node.id}`;
    const created = await this.#etcd.if(key, 'Create', '==', 0).then(this.#etcd.put(key).value(JSON.stringify(node)).lease(leaseId)).commit();
    if (!created.succeeded) {
      lease.revoke().catch(() => {});
      throw new Error(`node id ${JSON.stringify(node.id)} is in use (by another node, or by this node's previous run until its lease expires)`);
    }
    this.#lease = lease;
    this.#joined = true;
    this.#fenced = false;
    this.#armFence(granted);
  }

  /**
   * Fences this node `ttl - margin` after `sentAt` (a quarter of the TTL, at
   * most 1 s): when no keepalive sent later has been answered by then, the
   * lease may be about to expire in etcd.
   */
  #armFence(sentAt) {
    const ttlMs = this.#options.leaseTtlS * 1000;
    const due = sentAt + ttlMs - Math.min(1000, ttlMs / 4) - performance.now();
    clearTimeout(this.#fenceTimer);
    this.#fenceTimer = setTimeout(() => this.#fence('cluster_fenced'), Math.max(0, due));
    this.#fenceTimer.unref?.();
  }

  /**
   * Stops everything this node runs, at once and without grace (another node
   * may own it by now), and places nothing until a keepalive succeeds again
   * or the node has joined again.
   */
  #fence(type) {
    clearTimeout(this.#fenceTimer);
    this.#bridge.emit('cluster', { type, nodeId: this.nodeId, at: Date.now() });
    if (this.#fenced) return;
    this.#fenced = true;
    this.#epoch += 1;
    this.#members = new Map();
    for (const [id, placed] of [...this.#placed]) {
      this.#placed.delete(id);
      if (placed.startsWith(`${this.nodeId} `)) this.#bridge.removeWorkspace(id, { graceMs: 0 }).catch(() => {});
    }
    this.#reconcile();
  }

  /** Reads the members again and places the workspaces by them; a failed read is tried again. */
  async #refresh() {
    if (this.#closed || this.#fenced) return;
    const seq = ++this.#refreshes;
    const epoch = this.#epoch;
    let nodes;
    try {
      nodes = await this.#etcd.getAll().prefix(`${this.#options.prefix}nodes/`).strings();
    } catch (err) {
      // Until the lease fences this node, the placement stands; read again soon.
      this.#report(err);
      setTimeout(() => this.#refresh(), 1000).unref?.();
      return;
    }
    // Only the newest answer counts, and none after a fence or a close.
    if (seq < this.#applied || epoch !== this.#epoch || this.#closed || this.#fenced) return;
    this.#applied = seq;
    const members = new Map();
    for (const [key, text] of Object.entries(nodes)) {
      let member;
      try {
        member = JSON.parse(text);
      } catch {
        continue;
      }
      const id = key.slice(`${this.#options.prefix}nodes/`.length);
      if (member?.id === id && typeof member.url === 'string' && /^http:\/\/[^/?#@]+(\/[^?#]*)?$/.test(member.url)) members.set(id, member);
    }
    if (!members.has(this.nodeId)) {
      // Our key is gone: etcd expired the lease (a keepalive answer may still be on its way).
      this.#fence('cluster_lease_lost');
      this.#rejoin();
      return;
    }
    this.#members = members;
    this.#reconcile();
  }

  /** Places every workspace by the current members (serialized). */
  #reconcile() {
    this.#queued += 1;
    this.#reconciling = this.#reconciling
      .then(() => this.#place())
      .catch((err) => this.#report(err))
      .finally(() => (this.#queued -= 1));
    return this.#reconciling;
  }

  /** `<owner> <url>` of a workspace by the current members; undefined without any. */
  #want(id) {
    const owner = ownerOf(id, this.#members.keys());
    return owner === undefined ? undefined : `${owner} ${this.#members.get(owner).url}`;
  }

  async #place() {
    const epoch = this.#epoch;
    const members = this.#members;
    const moves = [];
    for (const [id, options] of Object.entries(this.#workspaces)) {
      const want = this.#want(id);
      const placed = this.#placed.get(id);
      if (placed === want && this.#bridge.hasWorkspace(id) === (want !== undefined)) continue;
      moves.push({ id, options, want, placed });
    }
    const outcomes = await Promise.allSettled(
      moves.map(async ({ id, options, want, placed }) => {
        if (this.#bridge.hasWorkspace(id)) {
          // A workspace run here moves away gracefully; a relay is replaced at once.
          const local = placed?.startsWith(`${this.nodeId} `);
          this.#placed.delete(id);
          await this.#bridge.removeWorkspace(id, { graceMs: local ? this.#options.graceMs : 0 });
        }
        if (want === undefined || this.#closed || this.#fenced || epoch !== this.#epoch) return;
        const [owner] = want.split(' ');
        const spec = owner === this.nodeId ? options : this.#remote(id, options, members.get(owner));
        this.#bridge.addWorkspace(id, spec);
        this.#placed.set(id, want);
        this.#bridge.emit('cluster', { type: 'cluster_placed', workspaceId: id, owner, nodeId: this.nodeId, at: Date.now() });
      }),
    );
    for (const outcome of outcomes) if (outcome.status === 'rejected') this.#report(outcome.reason);
  }

  /** The remote workspace through which this node reaches `id` on `owner`. */
  #remote(id, options, owner) {
    const remote = {
      url: `${owner.url}/workspaces/${encodeURIComponent(id)}/mcp`,
      headers: { authorization: `Bearer ${this.#options.secret}` },
      // The owner's start and call count in its own timeout; the relay waits a little longer.
      timeoutMs: (options.timeoutMs ?? DEFAULT_TIMEOUT_MS) + RELAY_TIMEOUT_MARGIN_MS,
      // A relay is never left `failed`: while its owner is away, the lease moves the workspace.
      maxRestarts: 1_000_000,
    };
    for (const key of REMOTE_KEYS) if (options[key] !== undefined) remote[key] = options[key];
    return remote;
  }

  #report(err) {
    this.#bridge.emit('cluster', { type: 'cluster_error', nodeId: this.nodeId, error: String(err?.message ?? err), at: Date.now() });
  }

  /**
   * Leaves the cluster: the workspaces run here are stopped (their calls in
   * flight finish within `graceMs`), then the lease is revoked (the others
   * take them at once) and etcd closed. Bounded: a paused etcd does not
   * hold it past its request deadlines.
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#epoch += 1;
    clearTimeout(this.#fenceTimer);
    const local = [...this.#placed].filter(([, placed]) => placed.startsWith(`${this.nodeId} `)).map(([id]) => id);
    await Promise.allSettled(local.map((id) => this.#bridge.removeWorkspace(id, { graceMs: this.#options.graceMs })));
    const bounded = (promise) => Promise.race([promise.catch(() => {}), sleep(2000)]);
    await bounded(this.#watcher?.cancel() ?? Promise.resolve());
    await bounded(this.#lease?.revoke() ?? Promise.resolve());
    this.#etcd.close();
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
