// Prometheus metrics of a Bridge and its MCP endpoints, in a Registry of
// their own (never prom-client's global one). The bridge's counters and
// gauges are read from `bridge.metrics()` at scrape time; the endpoint's
// request latencies are observed as they happen.
import client from 'prom-client';

/** Methods kept as a label value; any other method is counted as "other" to bound cardinality. */
const KNOWN_METHODS = new Set([
  'tools/list', 'tools/call', 'resources/list', 'resources/templates/list', 'resources/read',
  'resources/subscribe', 'resources/unsubscribe', 'prompts/list', 'prompts/get',
  'completion/complete', 'logging/setLevel',
]);

const OUTCOMES = [['ok', 'ok'], ['errors', 'error'], ['timeouts', 'timeout'], ['aborted', 'aborted'], ['rejected', 'rejected']];
const QUANTILES = [['p50', '0.5'], ['p90', '0.9'], ['p99', '0.99'], ['max', '1']];
/** Supervision states (`WorkspaceState` of fastmcp-bridge); each is a series of the state gauge. */
const STATES = ['stopped', 'starting', 'ready', 'unhealthy', 'restarting', 'stopping', 'failed'];

/** Shared by every router of one bridge, so a separately mounted /metrics sees the MCP endpoint's figures. */
const states = new WeakMap();

/**
 * The metrics of `bridge`: `{ registry, observe(workspace, method, seconds, outcome), sessionCount(id), addSessionSource(fn) }`.
 * @param {import('fastmcp-bridge').Bridge} bridge
 */
export function bridgeMetrics(bridge) {
  let state = states.get(bridge);
  if (!state) {
    state = createState(bridge);
    states.set(bridge, state);
  }
  return state;
}

function snapshots(bridge) {
  try {
    return Object.entries(bridge.metrics());
  } catch {
    return []; // a closed bridge has nothing to report
  }
}

function statuses(bridge) {
  try {
    return bridge.workspaces();
  } catch {
    return [];
  }
}

function createState(bridge) {
  const registry = new client.Registry();
  const sessionSources = new Set();
  const registers = [registry];
  const sessionCount = (id) => {
    let count = 0;
    for (const source of sessionSources) count += source(id);
    return count;
  };

  new client.Counter({
    name: 'fastmcp_bridge_requests_total',
    help: 'Calls made to the workspace process (queue refusals included).',
    labelNames: ['workspace'],
    registers,
    collect() {
      this.reset();
      for (const [id, m] of snapshots(bridge)) this.inc({ workspace: id }, m.requests);
    },
  });
  new client.Counter({
    name: 'fastmcp_bridge_responses_total',
    help: 'Settled calls by outcome: ok, error, timeout, aborted, rejected (queue full).',
    labelNames: ['workspace', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [id, m] of snapshots(bridge)) {
        for (const [field, outcome] of OUTCOMES) this.inc({ workspace: id, outcome }, m[field]);
      }
    },
  });
  new client.Gauge({
    name: 'fastmcp_bridge_in_flight',
    help: 'Calls holding a concurrency slot now.',
    labelNames: ['workspace'],
    registers,
    collect() {
      for (const [id, m] of snapshots(bridge)) this.set({ workspace: id }, m.inFlight);
    },
  });
  new client.Gauge({
    name: 'fastmcp_bridge_queued',
    help: 'Calls waiting in the queue now.',
    labelNames: ['workspace'],
    registers,
    collect() {
      for (const [id, m] of snapshots(bridge)) this.set({ workspace: id }, m.queued);
    },
  });
  new client.Gauge({
    name: 'fastmcp_bridge_call_latency_seconds',
    help: 'Call latency percentiles (queue wait included) from the core\'s HDR histogram; quantile 1 is the largest.',
    labelNames: ['workspace', 'quantile'],
    registers,
    collect() {
      for (const [id, m] of snapshots(bridge)) {
        for (const [field, quantile] of QUANTILES) this.set({ workspace: id, quantile }, m[field] / 1000);
      }
    },
  });
  new client.Gauge({
    name: 'fastmcp_bridge_workspace_state',
    help: 'Supervision state of the workspace: 1 for the state it is in, 0 for the others.',
    labelNames: ['workspace', 'state'],
    registers,
    collect() {
      this.reset(); // a removed workspace leaves no series behind
      for (const { id, state } of statuses(bridge)) {
        for (const name of STATES) this.set({ workspace: id, state: name }, name === state ? 1 : 0);
      }
    },
  });
  new client.Counter({
    name: 'fastmcp_bridge_restarts_total',
    help: 'Restarts of the workspace process by its supervisor (after a crash, a failed start, failed health checks or the memory limit); stop, start and restart on request are not counted.',
    labelNames: ['workspace'],
    registers,
    collect() {
      this.reset();
      for (const { id, restarts } of statuses(bridge)) this.inc({ workspace: id }, restarts);
    },
  });
  new client.Gauge({
    name: 'fastmcp_bridge_mcp_sessions',
    help: 'Open MCP sessions of the streamable HTTP endpoint.',
    labelNames: ['workspace'],
    registers,
    collect() {
      for (const id of bridge.workspaceIds) this.set({ workspace: id }, sessionCount(id));
    },
  });
  if (bridge.requestLogDropped !== null) {
    new client.Counter({
      name: 'fastmcp_bridge_request_log_dropped_total',
      help: 'Calls the request log did not record because its writer was behind (docs/request-log.md).',
      registers,
      collect() {
        this.reset();
        this.inc(bridge.requestLogDropped ?? 0);
      },
    });
  }
  const duration = new client.Histogram({
    name: 'fastmcp_bridge_mcp_request_duration_seconds',
    help: 'Time from an MCP request reaching the endpoint to its response, by method and outcome (ok, error, cancelled).',
    labelNames: ['workspace', 'method', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });

  return {
    registry,
    observe(workspace, method, seconds, outcome) {
      duration.observe({ workspace, method: KNOWN_METHODS.has(method) ? method : 'other', outcome }, seconds);
    },
    sessionCount,
    addSessionSource(source) {
      sessionSources.add(source);
      return () => sessionSources.delete(source);
    },
  };
}
