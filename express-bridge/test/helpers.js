// Shared helpers of the router tests: a real Express server on port 0.
import assert from 'node:assert/strict';

import express from 'express';

export { eventually, hubPids, labDir } from '../../tests/helpers.js';
export const MCP_ACCEPT = 'application/json, text/event-stream';

/**
 * Serves `mount(app)` on 127.0.0.1, port 0.
 * @returns {Promise<{ base: string, close: () => Promise<void> }>}
 */
export async function serve(mount) {
  const app = express();
  mount(app);
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** POSTs one JSON-RPC message with MCP headers; `headers` override them. */
export function postMcp(url, message, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
    body: typeof message === 'string' ? message : JSON.stringify(message),
  });
}

/** Initializes an MCP session over plain HTTP and returns its id. */
export async function initialize(url, headers = {}) {
  const response = await postMcp(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'http-test', version: '0' } },
  }, headers);
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.result.protocolVersion, '2025-06-18');
  const sessionId = response.headers.get('mcp-session-id');
  assert.ok(sessionId);
  return sessionId;
}


