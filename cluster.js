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
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

import { bridgeError } from './errors.js';

const require = createRequire(import.meta.url);

/** Defaults of the `cluster` option. */
const DEFAULTS = { prefix: '/fastmcp-bridge/', leaseTtlS: 10, graceMs: 10_000 };
/** The workspace options a remote copy keeps: the request limits and the protocol. */
const REMOTE_KEYS = [
  'maxConcurrent', 'maxQueue', 'timeoutMs', 'maxRetries', 'maxMessageBytes', 'healthIntervalMs', 'healthTimeoutMs',
  'maxHealthFailures', 'maxRestarts', 'restartWindowMs', 'logLines', 'startTimeoutMs', 'protocol',
];
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
  /** Where each workspace runs, as placed on this bridge: node id. */
  #placed = new Map();
  /** Reconciliations run one after another. */
  #reconciling = Promise.resolve();
  #closed = false;
  /** The timer that fences this node when its lease may be expiring (see #join). */
  #fence;
  /** Fenced: no keepalive succeeded lately; nothing is placed here. */
  #fenced = false;
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
   * The principal of a request from another node of the cluster (its
   * `Authorization: Bearer <secret>`), else null: for the `authenticate`
   * hook of the router the other nodes reach.
   * @param {import('express').Request} req
   */
  authenticate(req) {
    const header = req.get?.('authorization') ?? req.headers?.authorization;
    return header === `Bearer ${this.#options.secret}` ? { clusterNode: true } : null;
  }

  async #start() {
    let Etcd3;
    try {
      ({ Etcd3 } = require('etcd3'));
    } catch (err) {
      throw bridgeError('INVALID_ARGUMENT', `cluster: the etcd3 package is not installed (npm install etcd3): ${err.message}`);
    }
    const { etcd, node, prefix, leaseTtlS } = this.#options;
    this.#etcd = new Etcd3({ hosts: etcd.endpoints });
    this.#watcher = await this.#etcd.watch().prefix(`${prefix}nodes/`).create();
    this.#watcher.on('put', () => this.#refresh());
    this.#watcher.on('delete', () => this.#refresh());
    await this.#join(leaseTtlS, node);
    await this.#refresh();
  }

  /**
   * Puts this node's key under a new lease, kept alive every TTL/3.
   *
   * Fencing: etcd may expire the lease TTL after the last keepalive it
   * answered, and then the other nodes take this node's workspaces. So this
   * node stops running them first: when no keepalive has succeeded for
   * TTL minus a margin (a quarter of the TTL, at most 1 s) it places
   * nothing on itself ('cluster_fenced' event) until a keepalive succeeds
   * again. A lease etcd did expire is 'lost' (the client says so after 2
   * TTLs without answer, or at once when etcd says so): this node then
   * joins again under a new lease, with backoff.
   */
  async #join(ttl, node) {
    const lease = this.#etcd.lease(ttl);
    this.#lease = lease;
    const fenceMs = ttl * 1000 - Math.min(1000, ttl * 250);
    const arm = () => {
      clearTimeout(this.#fence);
      this.#fence = setTimeout(() => {
        if (this.#closed || this.#lease !== lease) return;
        this.#fenced = true;
        this.#bridge.emit('cluster', { type: 'cluster_fenced', nodeId: node.id, at: Date.now() });
        this.#members.clear();
        this.#reconcile();
      }, fenceMs);
      this.#fence.unref?.();
    };
    lease.on('keepaliveSucceeded', () => {
      if (this.#closed || this.#lease !== lease) return;
      arm();
      if (this.#fenced) {
        this.#fenced = false;
        this.#refresh();
      }
    });
    lease.on('lost', () => {
      if (this.#closed || this.#lease !== lease) return;
      clearTimeout(this.#fence);
      this.#fenced = true;
      this.#bridge.emit('cluster', { type: 'cluster_lease_lost', nodeId: node.id, at: Date.now() });
      this.#members.clear();
      this.#reconcile();
      this.#rejoin(ttl, node);
    });
    await lease.put(`${this.#options.prefix}nodes/${node.id}`).value(JSON.stringify(node));
    this.#fenced = false;
    arm();
  }

  async #rejoin(ttl, node) {
    for (let delay = 200; !this.#closed; delay = Math.min(delay * 2, 5000)) {
      try {
        await this.#join(ttl, node);
        await this.#refresh();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Reads the members again and places the workspaces by them. */
  async #refresh() {
    if (this.#closed || this.#fenced) return this.#reconciling;
    try {
      const nodes = await this.#etcd.getAll().prefix(`${this.#options.prefix}nodes/`).strings();
      this.#members = new Map(
        Object.values(nodes)
          .map((text) => JSON.parse(text))
          .filter((member) => typeof member?.id === 'string' && typeof member.url === 'string')
          .map((member) => [member.id, member]),
      );
    } catch {
      return this.#reconciling; // etcd unreachable: keep the placement until the lease is lost
    }
    return this.#reconcile();
  }

  /** Places every workspace by the current members (serialized). */
  #reconcile() {
    this.#reconciling = this.#reconciling.then(() => this.#place()).catch((err) => {
      this.#bridge.emit('cluster', { type: 'cluster_error', nodeId: this.nodeId, error: String(err?.message ?? err), at: Date.now() });
    });
    return this.#reconciling;
  }

  async #place() {
    const { graceMs } = this.#options;
    // Moves first away (graceful: in-flight calls finish within graceMs), then in.
    const moves = [];
    for (const [id, options] of Object.entries(this.#workspaces)) {
      const owner = this.owner(id);
      if (this.#placed.get(id) === owner && (owner !== undefined || !this.#bridge.hasWorkspace(id))) continue;
      moves.push([id, options, owner]);
    }
    await Promise.all(
      moves.map(async ([id, options, owner]) => {
        if (this.#bridge.hasWorkspace(id)) await this.#bridge.removeWorkspace(id, { graceMs });
        this.#placed.set(id, owner);
        if (owner === undefined) return; // no member known (lease lost): nothing runs it here
        if (owner === this.nodeId) {
          this.#bridge.addWorkspace(id, options);
        } else {
          this.#bridge.addWorkspace(id, this.#remote(id, options, this.#members.get(owner)));
        }
        this.#bridge.emit('cluster', { type: 'cluster_placed', workspaceId: id, owner, nodeId: this.nodeId, at: Date.now() });
      }),
    );
  }

  /** The remote workspace through which this node reaches `id` on `owner`. */
  #remote(id, options, owner) {
    const remote = { url: `${owner.url}/workspaces/${encodeURIComponent(id)}/mcp`, headers: { authorization: `Bearer ${this.#options.secret}` } };
    for (const key of REMOTE_KEYS) if (options[key] !== undefined) remote[key] = options[key];
    return remote;
  }

  /** Leaves the cluster: the lease revoked (the others take this node's workspaces at once), etcd closed. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#fence);
    await this.ready.catch(() => {});
    await this.#watcher?.cancel().catch(() => {});
    await this.#lease?.revoke().catch(() => {});
    await this.#reconciling;
    this.#etcd?.close();
  }
}
