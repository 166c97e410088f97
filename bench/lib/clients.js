// The three clients under comparison, each behind the same interface:
// `open()` connects (and, for the Bridge, starts its own hub), `call(text)`
// calls the `echo` tool and resolves with the echoed text, `close()`.
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Pool } from 'undici';

import { Bridge } from '../../index.js';

export const PROTOCOL_VERSION = '2025-11-25';
const ACCEPT = 'application/json, text/event-stream';

export function echoed(result) {
  const text = result?.content?.[0]?.text;
  if (typeof text !== 'string') throw new Error(`unexpected tool result: ${JSON.stringify(result)}`);
  return text;
}

/**
 * `bridge.call()`; the Bridge spawns its hub from `dir` with `python`.
 * `workspace` adds workspace options (e.g. `transport`, `command`, `args`)
 * and `bridgeOptions` bridge options (e.g. `maxMessageBytes`).
 */
export function bridgeClient({ dir, python, concurrency, workspace = {}, bridgeOptions = {} }) {
  let bridge;
  return {
    name: 'bridge',
    async open() {
      bridge = new Bridge({
        python,
        // Spawned as the other clients' servers are (`python -m
        // fastmcp_workspace`); the ceiling's `python` (bench/bare-hub) is no
        // interpreter a fork server could run in. bench/fork.js compares
        // the launchers.
        launcher: 'spawn',
        // Room for every concurrent call of the run: the defaults (20 in
        // flight) would cap the bridge below what the other clients may do.
        maxConcurrent: Math.max(concurrency, 1),
        maxQueue: 1000,
        ...bridgeOptions,
        workspaces: { ws: { dir: path.resolve(dir), ...workspace } },
      });
      await bridge.serverInfo('ws');
    },
    async call(text) {
      return echoed(await bridge.call('ws', 'tools/call', { name: 'echo', arguments: { text } }));
    },
    close: () => bridge?.close(),
  };
}

/** The official TypeScript SDK client over StreamableHTTPClientTransport. */
export function sdkClient({ url }) {
  let client;
  return {
    name: 'sdk',
    async open() {
      client = new Client({ name: 'bench-sdk', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    },
    async call(text) {
      return echoed(await client.callTool({ name: 'echo', arguments: { text } }));
    },
    close: () => client?.close(),
  };
}

/** The JSON-RPC message in a JSON body, or in the SSE event answering `id`. */
function parseAnswer(contentType, body, id) {
  if (contentType.startsWith('application/json')) return JSON.parse(body);
  if (!contentType.startsWith('text/event-stream')) throw new Error(`unexpected content type ${contentType}`);
  for (const event of body.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line[5] === ' ' ? 6 : 5))
      .join('\n');
    if (!data) continue; // priming or keep-alive event
    const message = JSON.parse(data);
    if (message.id === id && ('result' in message || 'error' in message)) return message;
  }
  throw new Error('SSE stream ended without a response');
}

/**
 * Raw undici POSTs of the same JSON-RPC, a correct MCP streamable HTTP
 * exchange: `initialize`, the `Mcp-Session-Id` it returns on every later
 * request, `notifications/initialized`, then `tools/call`. Answers may be
 * JSON or SSE.
 */
export function undiciClient({ url, concurrency, tool = 'echo' }) {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: Math.max(concurrency, 1) });
  const headers = { 'content-type': 'application/json', accept: ACCEPT };
  let nextId = 1;

  async function post(message) {
    const response = await pool.request({
      method: 'POST',
      path: target.pathname,
      headers,
      body: JSON.stringify(message),
    });
    const session = response.headers['mcp-session-id'];
    if (session) headers['mcp-session-id'] = session;
    const body = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}: ${body.slice(0, 200)}`);
    if (message.id === undefined) return undefined; // 202 for a notification
    const answer = parseAnswer(String(response.headers['content-type'] ?? ''), body, message.id);
    if (answer.error) throw new Error(`JSON-RPC error ${answer.error.code}: ${answer.error.message}`);
    return answer.result;
  }

  return {
    name: 'undici',
    async open() {
      const init = await post({
        jsonrpc: '2.0',
        id: nextId++,
        method: 'initialize',
        params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench-undici', version: '0' } },
      });
      headers['mcp-protocol-version'] = init.protocolVersion;
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    },
    async call(text) {
      const id = nextId++;
      return echoed(await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { text } } }));
    },
    async close() {
      if (headers['mcp-session-id']) {
        await pool.request({ method: 'DELETE', path: target.pathname, headers }).then((r) => r.body.dump(), () => {});
      }
      await pool.close();
    },
  };
}
