/**
 * fastmcp-bridge: run one Python FastMCP hub process per workspace and call
 * it over MCP (JSON-RPC 2.0) like a local async function.
 *
 * The options' fields and their docs are generated from the native
 * module's option structs (`crates/bridge-node/src/options.rs`) into
 * `native.d.ts` by `npm run build`; this file adds what the generator
 * cannot express (the hub / stdio workspace union, function-valued
 * options) and the JS classes. The rest of `native.d.ts` (the `Native*`
 * classes) is not public API.
 */

import { EventEmitter } from 'node:events';

import type * as native from './native.js';

/**
 * How the core reaches a workspace process: MCP streamable HTTP over TCP
 * loopback (`'http'`), the same over a Unix domain socket (`'unix'`) in a
 * private directory (mode 0700) that the core creates and removes, or
 * newline-delimited JSON-RPC on the stdin and stdout of any MCP server
 * command (`'stdio'`, see {@link StdioWorkspaceOptions}). MCP 2025-06-18,
 * Basic / Transports.
 */
export type TransportKind = NonNullable<native.BridgeOptions['transport']>;

/**
 * Which MCP revision a workspace's sessions speak.
 *
 * - `'stateful'`: the `initialize` handshake (MCP 2025-11-25, accepting
 *   2025-06-18 and 2025-03-26): an MCP session per {@link Session}, server
 *   requests during a call, server notifications on the session's `GET`
 *   stream, a session-wide logging level.
 * - `'sessionless'`: MCP 2026-07-28: `server/discover` instead of
 *   `initialize`, then self-contained requests carrying the client's info
 *   and capabilities in `_meta`. Server requests during a call arrive as an
 *   `InputRequiredResult`, answered by the same `onRequest` handlers; no
 *   `GET` stream, no `ping` (the health check of a stdio server is
 *   `server/discover`), no `logging/setLevel`. A server that does not offer
 *   2026-07-28 fails the workspace's start (`START_FAILED`).
 * - `'auto'`: `server/discover` first; 2026-07-28 when the server offers it,
 *   else the `initialize` handshake.
 */
export type Protocol = NonNullable<native.BridgeOptions['protocol']>;

/**
 * OS isolation of a workspace's process (Linux): its own user, resource
 * limits (`setrlimit`) and a control group covering every process it
 * starts; see docs/isolation.md.
 */
export type IsolationOptions = native.IsolationOptions;

/** One MCP server a workspace hub aggregates (Claude Desktop `mcpServers` shape). */
export type McpServerConfig =
  | { command: string; args?: string[]; env?: Record<string, string>; cwd?: string }
  | { url: string; headers?: Record<string, string> };

/** Options of one workspace: a FastMCP hub, any MCP server over stdio, or a remote MCP endpoint. */
export type WorkspaceOptions = HubWorkspaceOptions | StdioWorkspaceOptions | RemoteWorkspaceOptions;

/** The fields of which one kind of workspace narrows the type or the presence. */
type KindFields =
  | 'transport' | 'dir' | 'python' | 'mcpServers' | 'tools' | 'launcher' | 'command' | 'args' | 'cwd' | 'session' | 'url' | 'headers';

/**
 * An MCP streamable HTTP endpoint someone else runs (a Kubernetes Service,
 * another host, another bridge's Express endpoint): everything a local
 * workspace gets (queue, priorities, deadlines, cancellation, progress,
 * sessions, server requests, metrics, events, both MCP revisions) but its
 * process. `start` connects and initializes (`START_FAILED`, retried with
 * backoff, when it cannot); health checks are MCP `ping`, and
 * `maxHealthFailures` failed ones reconnect it; `stop` ends its MCP
 * sessions. `status().pid` is null. See docs/workspaces.md, "Remote
 * workspaces".
 */
export interface RemoteWorkspaceOptions
  extends Omit<native.WorkspaceOptions, KindFields | 'env' | 'inheritEnv' | 'isolation' | 'tracing'> {
  /** `http://host:port/path` (https is not supported yet). */
  url: string;
  /** Sent with every request (e.g. `{ authorization: 'Bearer …' }`); not the transport's own headers. Default: none. */
  headers?: Record<string, string>;
  transport?: 'http';
}

/**
 * Any MCP server command reached over stdio (e.g. `npx -y
 * @modelcontextprotocol/server-everything stdio`). Its stdout lines that are
 * not JSON-RPC are logged and skipped, its stderr goes to the logs, and its
 * health check is MCP `ping` (`server/discover` with the sessionless
 * revision). With the handshake the process has one MCP session, which
 * every session of the workspace shares; with the sessionless revision each
 * session's requests carry its own identity.
 */
export interface StdioWorkspaceOptions extends Omit<native.WorkspaceOptions, KindFields> {
  transport: 'stdio';
  /** Program to run (looked up in `PATH`). */
  command: string;
  /** Its arguments. Default: none. */
  args?: string[];
  /** Its working directory; relative paths resolve against `process.cwd()`. Default: this process's. */
  cwd?: string;
  /**
   * `'shared'` (one process for every session) or `'per-client'` (a process
   * of its own for each `bridge.session()`). Default: `'shared'`.
   */
  session?: native.WorkspaceOptions['session'];
}

/**
 * A workspace served by the FastMCP hub (`python -m fastmcp_workspace`):
 * a directory, or a configuration given inline (`mcpServers`, `tools`), or
 * both.
 */
export type HubWorkspaceOptions = HubWorkspaceFields &
  ({ dir: string } | { mcpServers: Record<string, McpServerConfig> } | { tools: string[] });

/** The fields of a {@link HubWorkspaceOptions}. */
export interface HubWorkspaceFields extends Omit<native.WorkspaceOptions, KindFields> {
  /** `'http'` or `'unix'` (default `'http'`); `'stdio'` is {@link StdioWorkspaceOptions}. */
  transport?: 'http' | 'unix';
  /**
   * Workspace directory (with `workspace.json`, unless `mcpServers` or
   * `tools` are given here); relative paths resolve against
   * `process.cwd()` when the workspace is added. Optional when
   * `mcpServers` or `tools` are given: the hub then works in a private
   * directory (mode 0700) that it removes on exit, against which relative
   * `cwd` values of its servers resolve.
   */
  dir?: string;
  /** Python interpreter for this workspace. Default: {@link BridgeOptions.python}. */
  python?: string;
  /**
   * MCP servers the hub aggregates, each mounted under its name as
   * namespace (`<name>_<tool>`). Given here, replaces `mcpServers` of
   * `workspace.json`.
   */
  mcpServers?: Record<string, McpServerConfig>;
  /** Python modules (in `dir`) of local tools; given here, replaces `tools` of `workspace.json`. */
  tools?: string[];
  /** Overrides {@link BridgeOptions.launcher}: `'fork'` (default on Linux) or `'spawn'`. */
  launcher?: native.WorkspaceOptions['launcher'];
}

/**
 * Options of a {@link Bridge}: the generated `BridgeOptions` with each
 * workspace's kind told apart. Unknown keys, values of the wrong type and
 * out-of-range ones throw `INVALID_ARGUMENT` naming the option.
 */
export interface BridgeOptions extends Omit<native.BridgeOptions, 'workspaces'> {
  /** Workspaces by id ({@link WORKSPACE_ID_PATTERN}). Default: none. */
  workspaces?: Record<string, WorkspaceOptions>;
  /**
   * Makes this bridge a node of a cluster that shares `workspaces` through
   * etcd (each runs on one node; every node reaches every one). Needs the
   * `etcd3` package. See docs/cluster.md. Default: none.
   */
  cluster?: ClusterOptions;
}

/** Options of a cluster node (docs/cluster.md). */
export interface ClusterOptions {
  /** etcd's client URLs, e.g. `['http://etcd-0.etcd:2379']`. */
  etcd: { endpoints: string[] };
  /**
   * This node: `id` (unique, 1-64 of `A-Z a-z 0-9 _ . -`) and `url`, where
   * the other nodes reach this node's `bridgeRouter` (`http://10.0.0.7:3000`,
   * its mount path included).
   */
  node: { id: string; url: string };
  /**
   * The secret every node of the cluster shares (at least 16 characters):
   * nodes send it as `Authorization: Bearer <secret>` to each other;
   * {@link Cluster.authenticate} recognizes it.
   */
  secret: string;
  /** etcd key prefix, ending in `/`. Default: `'/fastmcp-bridge/'`. */
  prefix?: string;
  /** The TTL of this node's lease, in s (at least 2). Default: 10. */
  leaseTtlS?: number;
  /** How long a workspace moving away may finish its calls in flight, in ms. Default: 10000. */
  graceMs?: number;
}

/** A bridge's part of its cluster ({@link Bridge.cluster}). */
export interface Cluster {
  /** Resolves once this node joined and placed the workspaces; rejects when it cannot join. */
  readonly ready: Promise<void>;
  /** This node's id. */
  readonly nodeId: string;
  /** The live members, sorted by id. */
  members(): { id: string; url: string }[];
  /** The node that owns a workspace now (rendezvous hashing over the members). */
  owner(workspaceId: string): string | undefined;
  /** Whether every workspace is placed as the current members say, with no placement under way. */
  settled(): boolean;
  /**
   * For the router's `authorize`: another node (the principal of
   * `authenticate`) may reach only the workspaces this node runs; any
   * other principal, true.
   */
  accepts(principal: unknown, workspaceId: string): boolean;
  /**
   * `{ clusterNode: true }` for a request another node sent (its bearer
   * token is the cluster's secret), else null: compose it into the
   * `authenticate` option of the router the nodes reach.
   */
  authenticate(req: { get(name: string): string | undefined }): { clusterNode: true } | null;
}

/** Symbolic codes of the bridge's own errors (see `errors.json`). */
export type BridgeErrorCode =
  | 'CLOSED'
  | 'TIMEOUT'
  | 'UNKNOWN_WORKSPACE'
  | 'START_FAILED'
  | 'WORKSPACE_CRASHED'
  | 'TRANSPORT_ERROR'
  | 'PROTOCOL_ERROR'
  | 'QUEUE_FULL'
  | 'ABORTED'
  | 'INVALID_ARGUMENT'
  | 'PAYLOAD_TOO_LARGE'
  | 'WORKSPACE_FAILED'
  | 'WORKSPACE_STOPPED';

/** An error from the bridge, or a JSON-RPC error the workspace's server returned. */
export class BridgeError extends Error {
  constructor(code: BridgeErrorCode | number, message: string, extra?: { rpcCode?: number; data?: unknown; cause?: unknown });
  /**
   * The bridge's symbolic code, or the server's numeric JSON-RPC error code
   * for an error response from the server (JSON-RPC 2.0, section 5.1).
   */
  readonly code: BridgeErrorCode | number;
  /** The JSON-RPC error code (-32000..-32019 for the bridge's own errors). */
  readonly rpcCode: number;
  /**
   * Structured details: the server's `data`; for `START_FAILED` and
   * `WORKSPACE_CRASHED`, `{ workspace, stderr: string[] }` (and `status`).
   */
  readonly data?: unknown;
}

/** The bridge's own error codes: JSON-RPC code, HTTP status, description. */
export const errorCodes: Readonly<Record<BridgeErrorCode, Readonly<{ code: number; httpStatus: number; description: string }>>>;

/**
 * The interpreter used when no `python` option is given:
 * `$FASTMCP_BRIDGE_PYTHON`, else the package's `.venv/bin/python` (created by
 * `npx fastmcp-bridge-setup-python`), else `python3`.
 */
export function defaultPython(): string;

/** Workspace ids the bridge accepts: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$` (safe in URLs, paths and metric labels). */
export const WORKSPACE_ID_PATTERN: RegExp;

/** One MCP progress notification (MCP 2025-06-18, Basic / Utilities / Progress). */
export interface Progress {
  /** Progress so far; increases with every notification. */
  progress: number;
  /** Total, when the server knows it. */
  total?: number;
  /** Human-readable status. */
  message?: string;
}

/** A JSON-RPC request from a workspace's server to the client. */
export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: string | number;
  method: string;
  params?: Record<string, any>;
}

/** A JSON-RPC notification from a workspace's server. */
export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, any>;
}

/**
 * Answers a server request: returns its `result` (or a promise of it). A
 * thrown error with a numeric `code` (or `rpcCode`) becomes that JSON-RPC
 * error for the server; anything else -32603.
 */
export type RequestHandler = (request: JsonRpcRequest) => unknown;

/**
 * Options of one call: the generated `NativeCallOptions` (priority and
 * timeouts, whose semantics follow the official MCP TypeScript SDK's
 * `RequestOptions`) and those of the JS side.
 */
export interface CallOptions extends native.NativeCallOptions {
  /**
   * Aborts the call: a queued call leaves the queue; an in-flight one is
   * cancelled on the server (`notifications/cancelled`). Rejects with
   * `ABORTED` (`cause` = the signal's reason); an already-aborted signal
   * rejects at once and sends nothing.
   */
  signal?: AbortSignal;
  /** Asks the server for progress (adds `_meta.progressToken`); called with each update, in order, before the call resolves. */
  onProgress?: (progress: Progress) => void;
  /**
   * Answers server requests sent in the context of this call (on its
   * response stream): `sampling/createMessage`, `elicitation/create`, ...
   * Others go to the session's, then the bridge's `onRequest` handlers.
   */
  onRequest?: RequestHandler;
  /**
   * Resolve with the result's JSON text as the server wrote it, unparsed
   * (to store or relay it without a parse and a re-serialization).
   * Default: false.
   */
  raw?: boolean;
}

/** {@link CallOptions} of a call that resolves with the result's JSON text. */
export type RawCallOptions = CallOptions & { raw: true };

/**
 * Options of {@link Session.forward}: the native call options (`priority`,
 * `timeoutMs`, `principal`, `mcpSession`, ...) and `onRequest`. No
 * `signal` (use {@link ForwardedRequest.cancel}), `onProgress` or `raw`: a
 * request asking for progress is left to {@link Session.call}, and the
 * response is always text.
 */
export interface ForwardOptions extends native.NativeCallOptions {
  /** Answers server requests sent in the context of this request, as {@link CallOptions.onRequest}. */
  onRequest?: RequestHandler;
}

/** A request {@link Session.forward} relayed. */
export interface ForwardedRequest {
  /**
   * The request's id as JSON text: `"abc"` (quotes included) or `17`,
   * which is what `JSON.stringify(id)` gives; a key to find the request by.
   */
  readonly id: string;
  /** The request's method. */
  readonly method: string;
  /**
   * Resolves with the JSON-RPC response's text,
   * `{"jsonrpc":"2.0","id":<id>,"result":<the server's result, as it wrote it>}`.
   * Rejects with a {@link BridgeError} as {@link Bridge.call} does: the
   * bridge's own failures (`TIMEOUT`, `QUEUE_FULL`, `ABORTED`, `CLOSED`,
   * ...) and the server's JSON-RPC error (its code in `rpcCode`).
   */
  readonly response: Promise<string>;
  /**
   * Aborts the request, as an aborted `AbortSignal` would: `response`
   * rejects with `ABORTED`, and the server gets `notifications/cancelled`
   * if the request was sent. Does nothing once it has settled.
   */
  cancel(): void;
}

/** Counters, gauges and latency of one workspace's calls. */
export interface Metrics {
  /** Calls made. */
  requests: number;
  /** Calls resolved with a result. */
  ok: number;
  /** Calls failed other than by timeout, abort or queue refusal (server errors included). */
  errors: number;
  /** Calls failed with `TIMEOUT`. */
  timeouts: number;
  /** Calls failed with `ABORTED`. */
  aborted: number;
  /** Calls refused with `QUEUE_FULL`. */
  rejected: number;
  /** Calls holding a concurrency slot now. */
  inFlight: number;
  /** Calls waiting in the queue now. */
  queued: number;
  /** Latency percentiles of admitted calls, in ms (queue wait included). */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Supervision state of a workspace. */
export type WorkspaceState = 'stopped' | 'starting' | 'ready' | 'unhealthy' | 'restarting' | 'stopping' | 'failed';

/** What {@link Bridge.status} reports. */
export interface WorkspaceStatus {
  id: string;
  state: WorkspaceState;
  /** OS process id of the running process. */
  pid?: number;
  /** When the running process became ready, in ms since the epoch. */
  startedAt?: number;
  /** Restarts after crashes, failed starts or health failures. */
  restarts: number;
  /** How the last process ended: `'exit status N'` or `'signal N'`. */
  lastExit?: string;
  /** The last start failure, crash or health failure. */
  lastError?: string;
  /** Resident memory of the running process, in bytes (sampled every `healthIntervalMs`). */
  rssBytes?: number;
  /** CPU use of the running process since the previous sample, in percent of one core. */
  cpuPercent?: number;
  /**
   * Private memory (USS) of a forked process, in bytes: what it holds beyond
   * the pages shared with its fork server, and what `maxMemoryMb` limits for
   * it (its `rssBytes` counts those shared pages in every child).
   */
  ussBytes?: number;
}

/** Filters of {@link Bridge.requests} and {@link Bridge.requestStats}; every one optional. */
export interface RequestFilter {
  workspace?: string;
  /** JSON-RPC method, e.g. `'tools/call'`. */
  method?: string;
  /** Tool or prompt name, or resource URI. */
  name?: string;
  outcome?: RequestOutcome;
  /** Calls made at or after this time (a Date, or ms since the epoch). */
  since?: Date | number;
  /** Calls made before this time. */
  until?: Date | number;
  /** Page size, 1-1000. Default: 100. */
  limit?: number;
  /** The `cursor` of the previous page: older entries. */
  cursor?: number;
}

/** How a call ended: a result, an error, or aborted by its caller. */
export type RequestOutcome = 'ok' | 'error' | 'cancelled';

/** One call in the request log. */
export interface RequestEntry {
  /** Increasing; pages go by it. */
  id: number;
  /** When the call was made, in ms since the epoch. */
  at: number;
  workspace: string;
  /** The MCP session it came on, as the caller named it (`mcpSession`; the Express endpoint's `Mcp-Session-Id`). */
  session: string | null;
  method: string;
  /** Tool or prompt name (`tools/call`, `prompts/get`), or resource URI (`resources/read`). */
  name: string | null;
  /** From the call to its settling, queue wait included, in ms. */
  durationMs: number;
  /** Of which waiting in the workspace's queue, in ms. */
  queueMs: number;
  outcome: RequestOutcome;
  /**
   * The bridge's code (`'TIMEOUT'`, `'ABORTED'`, ...), the server's JSON-RPC
   * code as text (`'-32601'`), or `'TOOL_ERROR'` for a `tools/call` result
   * with `isError: true` (outcome `'error'`).
   */
  errorCode: string | null;
  /** Bytes of the params sent and of the result received. */
  requestBytes: number;
  responseBytes: number;
  /** The caller's `principal` (the Express endpoint: `req.auth`). */
  principal: string | null;
  /** With `captureBodies`: the params (redacted) and the result or error, each capped at `maxBodyBytes`. */
  requestBody: string | null;
  responseBody: string | null;
}

/** Figures of one workspace and tool (or method, for calls without a name) in the request log. */
export interface RequestStats {
  workspace: string;
  method: string;
  name: string | null;
  count: number;
  /** Calls that did not end `ok`. */
  errors: number;
  /** `errors / count`. */
  errorRate: number;
  /** Duration percentiles (nearest rank), in ms. */
  p50Ms: number;
  p95Ms: number;
}

/** One output line of a workspace process. */
export interface LogLine {
  /** When it was read, in ms since the epoch. */
  at: number;
  stream: 'stdout' | 'stderr' | 'bridge';
  line: string;
}

/**
 * A supervision event. `type` is `'state'` (`from`, `to`), `'restart'`
 * (`reason`, `delayMs`, `restarts`), `'crash'` (`status`, `pid`),
 * `'health_failure'` (`failures`, `error`), `'memory_restart'` (`rssBytes`, or
 * `ussBytes` for a forked process, and `maxBytes`), `'idle_stop'` (`idleMs`), `'evicted'` (`for`, `maxRunning`) or
 * `'failed'` (`reason`).
 */
export interface BridgeEvent {
  /** Increasing number of the event within the bridge. */
  id: number;
  workspaceId: string;
  type: 'state' | 'restart' | 'crash' | 'health_failure' | 'memory_restart' | 'idle_stop' | 'evicted' | 'failed';
  /** When it happened, in ms since the epoch. */
  at: number;
  [field: string]: unknown;
}

/** Options of {@link Bridge.session}. */
export interface SessionOptions {
  /** `clientInfo` sent in `initialize`. Default: `{ name: 'fastmcp-bridge', version }`. */
  clientInfo?: { name: string; version: string; [key: string]: unknown };
  /** Client capabilities sent in `initialize`. Default: `{}`. */
  capabilities?: Record<string, unknown>;
}

/**
 * A further MCP session on a workspace's process, with its own `initialize`
 * (client info, capabilities, logging level, subscriptions) and request
 * handlers. Its calls share the workspace's queue, limits and metrics;
 * after a process restart it initializes again on its next call.
 *
 * The logging level (`logging/setLevel`) and resource subscriptions
 * (`resources/subscribe` / `resources/unsubscribe`) the server accepted on
 * this session are set again, right after `initialize`, on each MCP session
 * that replaces it (a process restart, or the server ending the session
 * with HTTP 404), so a restart does not reset them. Over stdio the process
 * has one MCP session and one such record, shared by all its sessions.
 */
export class Session extends EventEmitter implements AsyncDisposable {
  private constructor();
  /** As {@link Bridge.call}, on this session; `CLOSED` after {@link Session.close}. */
  call(method: string, params: Record<string, unknown> | unknown[] | undefined, options: RawCallOptions): Promise<string>;
  call<T = any>(method: string, params?: Record<string, unknown> | unknown[], options?: CallOptions): Promise<T>;
  /**
   * Relays one JSON-RPC request of an MCP client as it came: `message` is
   * its UTF-8 JSON (e.g. a streamable HTTP POST's body, unparsed). The
   * native core checks it and sends it upstream on this session's queue,
   * params untouched, and hands back the whole response's text: no parse
   * or serialization in JS (the Express endpoint's fast path).
   *
   * Returns `null`, having sent nothing, for a message it does not relay
   * as it came; parse it and use {@link Session.call} then: anything but
   * one JSON-RPC 2.0 request (a batch, a notification, a response, not
   * JSON); an `initialize`, `ping` or `server/discover` (an MCP endpoint
   * answers those itself); params that are not an object or an array, or
   * carry `_meta.progressToken` (the proxy must put its own); an id other
   * than a string without escapes or a plainly written safe integer; and
   * any request while the app's OpenTelemetry SDK traces calls (the trace
   * context goes into params, which takes a parse).
   * @throws {BridgeError} `INVALID_ARGUMENT` when `message` is not a
   *   `Uint8Array` or an option is unknown or of the wrong type
   */
  forward(message: Uint8Array, options?: ForwardOptions): ForwardedRequest | null;
  /** This session's server `InitializeResult`. */
  serverInfo(): Promise<Record<string, any>>;
  /** Answers this session's server requests of `method`; falls back to the bridge's handlers. */
  onRequest(method: string, handler: RequestHandler): this;
  /** Ends the MCP session (HTTP DELETE); idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * `'notification'`: a notification of this MCP session's server that is
   * not progress of a call (e.g. `notifications/message`). They come here,
   * not to the bridge; over stdio, where every session shares the
   * process's one MCP session, they come to every open session and to the
   * bridge.
   */
  on(event: 'notification', listener: (message: JsonRpcNotification) => void): this;
  once(event: 'notification', listener: (message: JsonRpcNotification) => void): this;
  off(event: 'notification', listener: (message: JsonRpcNotification) => void): this;
}

/**
 * Runs one Python FastMCP hub process per workspace, supervised by the Rust
 * core, and talks MCP to it.
 *
 * @example
 * ```js
 * const bridge = new Bridge({ workspaces: { alpha: { dir: 'workspaces/alpha' } } });
 * const result = await bridge.call('alpha', 'tools/call', { name: 'echo', arguments: { text: 'hi' } });
 * await bridge.close();
 * ```
 */
export class Bridge extends EventEmitter implements AsyncDisposable {
  /** @throws {BridgeError} `INVALID_ARGUMENT` for malformed options. */
  constructor(options?: BridgeOptions);

  /** The configured workspace ids, sorted. */
  readonly workspaceIds: string[];

  /** With the `cluster` option, this node's part of the cluster; else null. */
  readonly cluster: Cluster | null;

  /** Whether `workspaceId` is configured (added and not removed): one lookup, where {@link Bridge.workspaceIds} copies every id. */
  hasWorkspace(workspaceId: string): boolean;

  /**
   * Sends a JSON-RPC request to the workspace's MCP server and resolves with
   * the response's `result`. Starts the workspace process on first use and
   * performs MCP initialization once per process. Settles exactly once.
   *
   * Rejects with a {@link BridgeError}: `QUEUE_FULL` (at once), `TIMEOUT`,
   * `ABORTED`, `UNKNOWN_WORKSPACE`, `START_FAILED`, `WORKSPACE_CRASHED`,
   * `WORKSPACE_FAILED`, `WORKSPACE_STOPPED`, `TRANSPORT_ERROR`,
   * `PROTOCOL_ERROR`, `PAYLOAD_TOO_LARGE`, `INVALID_ARGUMENT`, `CLOSED`, or
   * the server's own numeric JSON-RPC error code with its `message` and `data`.
   * With `options.raw`, resolves with the result's JSON text instead.
   */
  call(workspaceId: string, method: string, params: Record<string, unknown> | unknown[] | undefined, options: RawCallOptions): Promise<string>;
  call<T = any>(workspaceId: string, method: string, params?: Record<string, unknown> | unknown[], options?: CallOptions): Promise<T>;

  /**
   * Opens a further MCP session on the workspace's process.
   * @throws {BridgeError} `UNKNOWN_WORKSPACE`, `INVALID_ARGUMENT`, `CLOSED`.
   */
  session(workspaceId: string, options?: SessionOptions): Session;

  /**
   * Answers server requests of `method` that no call or session handler
   * takes, for every workspace. Without one the server gets -32601; `ping`
   * is always answered by the core.
   */
  onRequest(method: string, handler: (workspaceId: string, request: JsonRpcRequest) => unknown): this;

  /** The server's MCP `InitializeResult`, starting the process if needed. */
  serverInfo(workspaceId: string): Promise<{
    protocolVersion: string;
    capabilities: Record<string, unknown>;
    serverInfo: { name: string; version: string };
    instructions?: string;
    [key: string]: unknown;
  }>;

  /** Metrics of one workspace; throws `UNKNOWN_WORKSPACE`. */
  metrics(workspaceId: string): Metrics;
  /** Metrics of every workspace, by id. */
  metrics(): Record<string, Metrics>;

  /** Supervision state of one workspace; throws `UNKNOWN_WORKSPACE`. */
  status(workspaceId: string): WorkspaceStatus;
  /** Supervision state of every workspace, sorted by id. */
  workspaces(): WorkspaceStatus[];
  /** The last `lines` (default 100) output lines of a workspace's processes, oldest first. */
  logs(workspaceId: string, options?: { lines?: number }): LogLine[];
  /**
   * Calls `listener` with each line a workspace's processes write from now
   * on, across restarts; first, before returning, with the last `lines`
   * (default 0) lines before them (each line comes once). Returns the
   * function that ends the watch (idempotent). Throws `UNKNOWN_WORKSPACE`.
   * A listener that throws gets a process warning.
   */
  watchLogs(workspaceId: string, listener: (line: LogLine) => void, options?: { lines?: number }): () => void;
  /** The last supervision events (at most 500), of one workspace or all, oldest first. */
  events(workspaceId?: string): BridgeEvent[];

  /**
   * A page of the request log (option `requestLog`), newest first; pass
   * `cursor` back for the next (older) page, `null` on the last. Reads run
   * off the event loop.
   * @throws {BridgeError} `INVALID_ARGUMENT` without a request log or for a bad filter.
   */
  requests(filter?: RequestFilter): Promise<{ entries: RequestEntry[]; cursor: number | null }>;
  /**
   * Count, error rate and duration percentiles per workspace and tool (or
   * method) of the entries matching `filter` (`limit` and `cursor` aside;
   * the newest 200,000 at most).
   * @throws {BridgeError} `INVALID_ARGUMENT` without a request log or for a bad filter.
   */
  requestStats(filter?: RequestFilter): Promise<RequestStats[]>;
  /** Entries the request log dropped because its writer was behind; `null` without a request log. */
  readonly requestLogDropped: number | null;

  /** Starts a workspace's process now (it would start on its first call). */
  start(workspaceId: string): Promise<void>;
  /**
   * Stops a workspace's process: calls in flight may finish within
   * `graceMs` (default 10000), the rest reject with `WORKSPACE_STOPPED`;
   * SIGTERM to its process group, SIGKILL after `graceMs`. A later call
   * starts it again.
   */
  stop(workspaceId: string, options?: { graceMs?: number }): Promise<void>;
  /** Stops and starts a workspace's process; also brings a `failed` workspace back. */
  restart(workspaceId: string, options?: { graceMs?: number }): Promise<void>;
  /**
   * Adds a workspace at run time; it starts on its first call.
   * @throws {BridgeError} `INVALID_ARGUMENT` (malformed, or the id is taken), `CLOSED`.
   */
  addWorkspace(workspaceId: string, options: WorkspaceOptions): void;
  /** Removes a workspace, stopping its process as {@link Bridge.stop} does. */
  removeWorkspace(workspaceId: string, options?: { graceMs?: number }): Promise<void>;

  /**
   * Stops every process this bridge started (SIGTERM, SIGKILL after 5 s).
   * Calls queued or in flight, and later calls, reject with `CLOSED`.
   * Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;

  /** `'notification'`: a server notification not tied to a call or session. */
  on(event: 'notification', listener: (workspaceId: string, message: JsonRpcNotification) => void): this;
  once(event: 'notification', listener: (workspaceId: string, message: JsonRpcNotification) => void): this;
  off(event: 'notification', listener: (workspaceId: string, message: JsonRpcNotification) => void): this;
  /** `'event'`: every supervision event. */
  on(event: 'event', listener: (event: BridgeEvent) => void): this;
  once(event: 'event', listener: (event: BridgeEvent) => void): this;
  off(event: 'event', listener: (event: BridgeEvent) => void): this;
  /** `'removed'`: a workspace was removed (`removeWorkspace`, or moved away by the cluster). */
  on(event: 'removed', listener: (workspaceId: string) => void): this;
  once(event: 'removed', listener: (workspaceId: string) => void): this;
  off(event: 'removed', listener: (workspaceId: string) => void): this;
  /** `'cluster'`: with the `cluster` option, this node's placements and lease (docs/cluster.md). */
  on(event: 'cluster', listener: (event: ClusterEvent) => void): this;
  once(event: 'cluster', listener: (event: ClusterEvent) => void): this;
  off(event: 'cluster', listener: (event: ClusterEvent) => void): this;
}

/**
 * What a cluster node reports (`bridge.on('cluster', …)`): a workspace
 * placed on an owner (`cluster_placed`; `owner` undefined while fenced),
 * this node fenced (no keepalive for its lease's TTL minus a margin: it runs
 * nothing), its lease lost (it joins again), or an error while placing.
 */
export type ClusterEvent =
  | { type: 'cluster_placed'; nodeId: string; workspaceId: string; owner: string | undefined; at: number }
  | { type: 'cluster_fenced' | 'cluster_lease_lost'; nodeId: string; at: number }
  | { type: 'cluster_error'; nodeId: string; error: string; at: number };
