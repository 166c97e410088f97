// An Express app serving the demo workspaces `alpha` and `beta` through
// fastmcp-bridge: each workspace is a FastMCP process, reached by any MCP
// client at /workspaces/<id>/mcp.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import express from 'express';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

const workspacesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'workspaces');

/** A Bridge over the demo workspaces in examples/workspaces/. */
export function createBridge(options = {}) {
  return new Bridge({
    ...options,
    workspaces: {
      alpha: { dir: path.join(workspacesDir, 'alpha') },
      beta: { dir: path.join(workspacesDir, 'beta') },
    },
  });
}

/** The Express app: the bridge's MCP endpoints and a landing route. */
export function createApp(bridge) {
  const app = express();
  app.use(bridgeRouter(bridge));
  app.get('/', (_req, res) => {
    res.json({ workspaces: bridge.workspaceIds.map((id) => ({ id, mcp: `/workspaces/${id}/mcp` })) });
  });
  return app;
}

/**
 * Starts the app on `host:port` (port 0 picks a free one).
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startServer({ port = 3000, host = '127.0.0.1', bridgeOptions } = {}) {
  const bridge = createBridge(bridgeOptions);
  const app = createApp(bridge);
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
