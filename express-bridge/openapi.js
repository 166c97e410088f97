// The OpenAPI 3.0 document of the REST routes (the MCP endpoint speaks
// JSON-RPC and is described by the MCP specification, not here).

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
  403: errorResponse('FORBIDDEN_ORIGIN (foreign Origin) or FORBIDDEN (the principal may not reach the workspace).'),
};

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
        'Workspaces, health and metrics of a fastmcp-bridge Express router. Each workspace also has an MCP ' +
        'streamable HTTP endpoint at /workspaces/{id}/mcp (MCP 2025-06-18 and 2025-11-25, Basic / Transports / ' +
        'Streamable HTTP), which this document does not describe. Process state, pid and restart counts are not ' +
        'reported: the bridge does not expose them yet.',
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
          summary: 'The workspaces the principal may reach, with their metrics',
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
          summary: 'One workspace with its metrics',
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' },
            },
          ],
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
          required: ['id', 'sessions', 'metrics'],
          properties: {
            id: { type: 'string' },
            sessions: { type: 'integer', description: 'Open MCP sessions of its endpoint.' },
            metrics: { $ref: '#/components/schemas/Metrics' },
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
