// An Express app serving the demo workspaces `alpha` and `beta` through
// fastmcp-bridge: each workspace is a FastMCP process, reached by any MCP
// client at /workspaces/<id>/mcp, with the operator dashboard at /dashboard/
// and the request log kept in memory. With DEMO_TOKEN set, every route of
// the bridge needs `Authorization: Bearer <DEMO_TOKEN>`.
import { timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import express from 'express';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

const workspacesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'workspaces');

/** A Bridge over the demo workspaces in examples/workspaces/, recording its calls in an in-memory request log. */
export function createBridge(options = {}) {
  return new Bridge({
    requestLog: { path: ':memory:', captureBodies: true },
    ...options,
    workspaces: {
      alpha: { dir: path.join(workspacesDir, 'alpha') },
      beta: { dir: path.join(workspacesDir, 'beta') },
    },
  });
}

/**
 * A bearer-token `authenticate` hook, or undefined without a token.
 * @param {string | undefined} token
 */
export function bearerAuth(token) {
  if (!token) return undefined;
  const expected = Buffer.from(`Bearer ${token}`);
  return (req) => {
    const given = Buffer.from(req.get('authorization') ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected) ? { user: 'demo' } : null;
  };
}

/** The Express app: the bridge's MCP endpoints, management routes, dashboard and a landing route. */
export function createApp(bridge, { token } = {}) {
  const app = express();
  const authenticate = bearerAuth(token);
  app.use(bridgeRouter(bridge, { ...(authenticate ? { authenticate } : {}), dashboard: true }));
  app.get('/', (_req, res) => {
    res.json({ dashboard: '/dashboard/', workspaces: bridge.workspaceIds.map((id) => ({ id, mcp: `/workspaces/${id}/mcp` })) });
  });
  return app;
}

/**
 * Starts the app on `host:port` (port 0 picks a free one).
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startServer({ port = 3000, host = '127.0.0.1', bridgeOptions, token = process.env.DEMO_TOKEN } = {}) {
  const bridge = createBridge(bridgeOptions);
  const app = createApp(bridge, { token });
  const server = await new Promise((resolve, reject) => {
    const listening = app.listen(port, host, () => resolve(listening));
    listening.once('error', reject);
  });
  const { port: bound } = server.address();
  return {
    url: `http://${host}:${bound}`,
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
      await bridge.close();
    },
  };
}
