// The OpenAPI 3.0 document of the REST routes (the MCP endpoint speaks
// JSON-RPC and is described by the MCP specification, not here).
import { WORKSPACE_ID_PATTERN } from 'fastmcp-bridge';

const METRIC_FIELDS = {
  requests: ['integer', 'Calls made.'],
  ok: ['integer', 'Calls that resolved with a result.'],
  errors: ['integer', 'Calls that failed other than by timeout, abort or queue refusal.'],
  timeouts: ['integer', 'Calls that failed with TIMEOUT.'],
  aborted: ['integer', 'Calls that failed with ABORTED.'],
  rejected: ['integer', 'Calls refused with QUEUE_FULL.'],
  inFlight: ['integer', 'Calls holding a concurrency slot now.'],
  queued: ['integer', 'Calls waiting in the queue now.'],
  p50: ['number', 'Median latency in ms, queue wait included.'],
  p90: ['number', '90th percentile latency in ms.'],
  p99: ['number', '99th percentile latency in ms.'],
  max: ['number', 'Largest latency in ms.'],
};

const errorResponse = (description) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const COMMON_ERRORS = {
  401: errorResponse('UNAUTHORIZED: `authenticate` returned no principal.'),
  403: errorResponse('FORBIDDEN_HOST (foreign Host), FORBIDDEN_ORIGIN (foreign Origin) or FORBIDDEN (the principal may not reach the workspace, or, without authenticate, the peer is not on loopback).'),
};

const ID_PARAMETER = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: WORKSPACE_ID_PATTERN.source },
};

const GRACE_PARAMETER = {
  name: 'graceMs',
  in: 'query',
  required: false,
  description: 'How long calls in flight may finish before they fail with WORKSPACE_STOPPED and the process gets SIGKILL after SIGTERM, in ms.',
  schema: { type: 'integer', minimum: 0, maximum: 600000, default: 10000 },
};

const WORKSPACE_ERRORS = {
  400: errorResponse('INVALID_WORKSPACE_ID: the id does not match the pattern; INVALID_REQUEST: a malformed query parameter.'),
  ...COMMON_ERRORS,
  404: errorResponse('UNKNOWN_WORKSPACE.'),
};

/** Query filters of the request log routes. */
const REQUEST_FILTERS = [
  ['method', { type: 'string' }, 'Only calls of this JSON-RPC method.'],
  ['name', { type: 'string' }, 'Only calls of this tool or prompt name, or resource URI.'],
  ['outcome', { type: 'string', enum: ['ok', 'error', 'cancelled'] }, 'Only calls that ended so.'],
  ['since', { type: 'integer', minimum: 0 }, 'Only calls made at or after this time, in ms since the epoch.'],
  ['until', { type: 'integer', minimum: 0 }, 'Only calls made before this time, in ms since the epoch.'],
].map(([name, schema, description]) => ({ name, in: 'query', required: false, description, schema }));

const LOG_ERRORS = {
  ...WORKSPACE_ERRORS,
  400: errorResponse('INVALID_WORKSPACE_ID; INVALID_REQUEST: a malformed query parameter; INVALID_ARGUMENT: the bridge keeps no request log.'),
};

const workspaceResponse = (description) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Workspace' } } },
});

/** A lifecycle route: POST /workspaces/{id}/<action>. */
const lifecycle = (operationId, summary, description, withGrace, outcome) => ({
  post: {
    operationId,
    summary,
    description,
    parameters: withGrace ? [ID_PARAMETER, GRACE_PARAMETER] : [ID_PARAMETER],
    responses: {
      200: workspaceResponse(outcome),
      ...WORKSPACE_ERRORS,
      503: errorResponse('START_FAILED (data: the process\'s last stderr lines), WORKSPACE_FAILED or CLOSED.'),
    },
  },
});

/**
 * The document, with `serverUrl` (the router's mount path) as its server.
 * @param {string} serverUrl
 */
export function openApiDocument(serverUrl) {
  return {
    openapi: '3.0.3',
    info: {
      title: 'fastmcp-bridge management API',
      version: '0.1.0',
      description:
        'Workspaces (supervision state, lifecycle, logs, request log), the bridge\'s events, health and metrics of a ' +
        'fastmcp-bridge Express router. Each workspace also has an MCP ' +
        'streamable HTTP endpoint at /workspaces/{id}/mcp (MCP 2025-06-18 and 2025-11-25, Basic / Transports / ' +
        'Streamable HTTP), which this document does not describe.',
    },
    servers: [{ url: serverUrl }],
    paths: {
      '/health': {
        get: {
          operationId: 'getHealth',
          summary: 'Liveness of the router',
          responses: {
            200: { description: 'The router answers.', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } },
            ...COMMON_ERRORS,
          },
        },
      },
      '/workspaces': {
        get: {
          operationId: 'listWorkspaces',
          summary: 'The workspaces the principal may reach, with their supervision state and metrics',
          responses: {
            200: {
              description: 'Workspaces, sorted by id.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['workspaces'],
                    properties: { workspaces: { type: 'array', items: { $ref: '#/components/schemas/Workspace' } } },
                  },
                },
              },
            },
            ...COMMON_ERRORS,
          },
        },
      },
      '/workspaces/{id}': {
        get: {
          operationId: 'getWorkspace',
          summary: 'One workspace with its supervision state and metrics',
          parameters: [ID_PARAMETER],
          responses: {
            200: {
              description: 'The workspace.',
              content: {
                'application/json': {
                  schema: {
                    allOf: [
                      { $ref: '#/components/schemas/Workspace' },
                      { type: 'object', required: ['mcp'], properties: { mcp: { type: 'string', description: 'Path of its MCP endpoint.' } } },
                    ],
                  },
                },
              },
            },
            400: errorResponse('INVALID_WORKSPACE_ID: the id does not match the pattern.'),
            ...COMMON_ERRORS,
            404: errorResponse('UNKNOWN_WORKSPACE.'),
          },
        },
      },
      '/workspaces/{id}/start': lifecycle(
        'startWorkspace',
        'Start the workspace\'s process now',
        'Answers once the process is ready (it would otherwise start on its first call); nothing happens if it runs.',
        false,
        'The workspace, ready.',
      ),
      '/workspaces/{id}/stop': lifecycle(
        'stopWorkspace',
        'Stop the workspace\'s process',
        'Calls in flight may finish within graceMs, the rest fail with WORKSPACE_STOPPED; SIGTERM to the process ' +
          'group, SIGKILL after graceMs. A later call starts it again.',
        true,
        'The workspace, stopped.',
      ),
      '/workspaces/{id}/restart': lifecycle(
        'restartWorkspace',
        'Stop and start the workspace\'s process',
        'As stop, then start; also brings a failed workspace back. Restarts on request are not counted in restarts.',
        true,
        'The workspace, ready with a new process.',
      ),
      '/workspaces/{id}/requests': {
        get: {
          operationId: 'getWorkspaceRequests',
          summary: 'The workspace\'s calls in the request log, newest first',
          description: 'Needs the bridge option requestLog. Pages go by cursor: pass the cursor of a page to get the next (older) one.',
          parameters: [
            ID_PARAMETER,
            ...REQUEST_FILTERS,
            { name: 'limit', in: 'query', required: false, description: 'Page size.', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
            { name: 'cursor', in: 'query', required: false, description: 'The cursor of the previous page.', schema: { type: 'integer', minimum: 0 } },
          ],
          responses: {
            200: {
              description: 'One page.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['entries', 'cursor'],
                    properties: {
                      entries: { type: 'array', items: { $ref: '#/components/schemas/RequestEntry' } },
                      cursor: { type: 'integer', nullable: true, description: 'For the next page; null on the last.' },
                    },
                  },
                },
              },
            },
            ...LOG_ERRORS,
          },
        },
      },
      '/workspaces/{id}/requests/stats': {
        get: {
          operationId: 'getWorkspaceRequestStats',
          summary: 'Count, error rate and duration percentiles of the workspace\'s calls, per tool (or method)',
          description: 'Over the matching calls in the request log (the newest 200,000 at most).',
          parameters: [ID_PARAMETER, ...REQUEST_FILTERS],
          responses: {
            200: {
              description: 'One entry per method and name.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['stats'],
                    properties: { stats: { type: 'array', items: { $ref: '#/components/schemas/RequestStats' } } },
                  },
                },
              },
            },
            ...LOG_ERRORS,
          },
        },
      },
      '/workspaces/{id}/logs': {
        get: {
          operationId: 'getWorkspaceLogs',
          summary: 'The last output lines of the workspace\'s processes, oldest first; or a live tail',
          description:
            'With `Accept: text/event-stream` (what a browser\'s EventSource sends), a live tail as server-sent ' +
            'events: first the last `lines` lines, then each new line as the processes write it, across restarts, ' +
            'one event each (default event type, message) with a LogLine as JSON in one `data` line, no ids (a ' +
            'reconnecting client gets the tail again). A comment line (`: keepalive`) goes out every ' +
            'eventsKeepAliveMs. Otherwise JSON.',
          parameters: [
            ID_PARAMETER,
            {
              name: 'lines',
              in: 'query',
              required: false,
              description: 'How many of the last lines, at most (the bridge keeps logLines per workspace, 1000 by default).',
              schema: { type: 'integer', minimum: 0, maximum: 100000, default: 100 },
            },
          ],
          responses: {
            200: {
              description: 'At most `lines` lines.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['id', 'lines'],
                    properties: {
                      id: { type: 'string' },
                      lines: { type: 'array', items: { $ref: '#/components/schemas/LogLine' } },
                    },
                  },
                },
                'text/event-stream': {
                  schema: { type: 'string', description: 'Events whose data is a LogLine (see components).' },
                },
              },
            },
            ...WORKSPACE_ERRORS,
          },
        },
      },
      '/events': {
        get: {
          operationId: 'streamEvents',
          summary: 'Supervision events of the workspaces the principal may reach, as server-sent events',
          description:
            'Server-sent events (HTML Living Standard, Server-sent events): each event has the bridge\'s event id ' +
            'as `id` and the BridgeEvent as JSON in one `data` line (default event type, message). Live events ' +
            'only, unless Last-Event-ID is sent: then first the buffered events after it (the bridge keeps the ' +
            'last 500; older ones are lost), then live ones, each once. A comment line (`: keepalive`) goes out ' +
            'every eventsKeepAliveMs (15 s by default).',
          parameters: [
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              description: 'The id of the last event received; an id beyond the newest (from an earlier bridge) replays the whole buffer.',
              schema: { type: 'string', pattern: '^[0-9]+$' },
            },
          ],
          responses: {
            200: {
              description: 'The stream; it stays open until the client leaves or the router closes.',
              content: {
                'text/event-stream': {
                  schema: { type: 'string', description: 'Events whose data is a BridgeEvent (see components).' },
                },
              },
            },
            400: errorResponse('INVALID_REQUEST: Last-Event-ID is not an event id.'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics (text exposition format 0.0.4)',
          responses: {
            200: { description: 'Metrics of every workspace.', content: { 'text/plain': { schema: { type: 'string' } } } },
            ...COMMON_ERRORS,
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          responses: {
            200: { description: 'OpenAPI 3.0 document.', content: { 'application/json': { schema: { type: 'object' } } } },
            ...COMMON_ERRORS,
          },
        },
      },
    },
    components: {
      schemas: {
        Health: {
          type: 'object',
          required: ['status', 'workspaces', 'sessions'],
          properties: {
            status: { type: 'string', enum: ['ok'] },
            workspaces: { type: 'integer', description: 'Configured workspaces.' },
            sessions: { type: 'integer', description: 'Open MCP sessions.' },
          },
        },
        Workspace: {
          type: 'object',
          required: ['id', 'state', 'pid', 'startedAt', 'restarts', 'lastExit', 'lastError', 'rssBytes', 'cpuPercent', 'ussBytes', 'sessions', 'metrics'],
          properties: {
            id: { type: 'string' },
            state: {
              type: 'string',
              enum: ['stopped', 'starting', 'ready', 'unhealthy', 'restarting', 'stopping', 'failed'],
              description: 'Supervision state.',
            },
            pid: { type: 'integer', nullable: true, description: 'OS process id of the running process, else null.' },
            startedAt: { type: 'integer', nullable: true, description: 'When the running process became ready, in ms since the epoch.' },
            restarts: {
              type: 'integer',
              description: 'Restarts by the supervisor after a crash, a failed start, failed health checks or the memory limit (not restarts on request).',
            },
            lastExit: { type: 'string', nullable: true, description: 'How the last process ended: "exit status N" or "signal N".' },
            lastError: { type: 'string', nullable: true, description: 'The last start failure, crash or health failure.' },
            rssBytes: { type: 'integer', nullable: true, description: 'Resident memory of the running process, in bytes (sampled every healthIntervalMs).' },
            cpuPercent: { type: 'number', nullable: true, description: 'CPU use of the running process since the previous sample, in percent of one core.' },
            ussBytes: {
              type: 'integer',
              nullable: true,
              description: 'Private memory (USS) of a forked process, in bytes: what maxMemoryMb limits for it (its rssBytes counts the pages shared with its fork server).',
            },
            sessions: { type: 'integer', description: 'Open MCP sessions of its endpoint.' },
            metrics: { $ref: '#/components/schemas/Metrics' },
          },
        },
        RequestEntry: {
          type: 'object',
          description: 'One call in the request log.',
          properties: {
            id: { type: 'integer', description: 'Increasing; pages go by it.' },
            at: { type: 'integer', description: 'When the call was made, in ms since the epoch.' },
            workspace: { type: 'string' },
            session: { type: 'string', nullable: true, description: 'The MCP session it came on (the endpoint\'s Mcp-Session-Id), if any.' },
            method: { type: 'string' },
            name: { type: 'string', nullable: true, description: 'Tool or prompt name, or resource URI.' },
            durationMs: { type: 'number', description: 'From the call to its settling, queue wait included.' },
            queueMs: { type: 'number', description: 'Of which in the workspace\'s queue.' },
            outcome: { type: 'string', enum: ['ok', 'error', 'cancelled'] },
            errorCode: { type: 'string', nullable: true, description: 'The bridge\'s code (e.g. TIMEOUT) or the server\'s JSON-RPC code.' },
            requestBytes: { type: 'integer' },
            responseBytes: { type: 'integer' },
            principal: { type: 'string', nullable: true },
            requestBody: { type: 'string', nullable: true, description: 'With captureBodies: the params, redacted and capped.' },
            responseBody: { type: 'string', nullable: true, description: 'With captureBodies: the result or error, capped.' },
          },
        },
        RequestStats: {
          type: 'object',
          properties: {
            workspace: { type: 'string' },
            method: { type: 'string' },
            name: { type: 'string', nullable: true },
            count: { type: 'integer' },
            errors: { type: 'integer', description: 'Calls that did not end ok.' },
            errorRate: { type: 'number' },
            p50Ms: { type: 'number' },
            p95Ms: { type: 'number' },
          },
        },
        LogLine: {
          type: 'object',
          required: ['at', 'stream', 'line'],
          properties: {
            at: { type: 'integer', description: 'When it was read, in ms since the epoch.' },
            stream: { type: 'string', enum: ['stdout', 'stderr', 'bridge'], description: 'bridge: a line of the bridge\'s own about the workspace (a remote workspace\'s connection attempts)' },
            line: { type: 'string' },
          },
        },
        BridgeEvent: {
          type: 'object',
          required: ['id', 'workspaceId', 'type', 'at'],
          additionalProperties: true,
          description:
            'A supervision event. type state has from and to; restart: reason, delayMs, restarts; crash: status, ' +
            'pid; health_failure: failures, error; memory_restart: rssBytes (ussBytes when forked), maxBytes; idle_stop: idleMs; ' +
            'evicted: for, maxRunning; failed: reason.',
          properties: {
            id: { type: 'integer', description: 'Increasing number of the event within the bridge.' },
            workspaceId: { type: 'string' },
            type: {
              type: 'string',
              enum: ['state', 'restart', 'crash', 'health_failure', 'memory_restart', 'idle_stop', 'evicted', 'failed'],
            },
            at: { type: 'integer', description: 'When it happened, in ms since the epoch.' },
          },
        },
        Metrics: {
          type: 'object',
          required: Object.keys(METRIC_FIELDS),
          properties: Object.fromEntries(
            Object.entries(METRIC_FIELDS).map(([name, [type, description]]) => [name, { type, description }]),
          ),
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'details'],
              properties: {
                code: { type: 'string', description: 'Symbolic code, e.g. UNKNOWN_WORKSPACE.' },
                message: { type: 'string' },
                details: { nullable: true, description: 'Structured details, or null.' },
              },
            },
          },
        },
      },
    },
  };
}
