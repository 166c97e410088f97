// A plain MCP client (the official @modelcontextprotocol/sdk) that knows
// nothing of fastmcp-bridge: it connects to a workspace endpoint, lists the
// tools and calls one.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * @param {string} endpoint e.g. http://127.0.0.1:3000/workspaces/alpha/mcp
 * @param {{ log?: (line: string) => void, token?: string }} [options] `token`: sent as a bearer token
 * @returns {Promise<{ tools: string[], result: unknown }>}
 */
export async function runDemoClient(endpoint, { log = console.log, token = process.env.DEMO_TOKEN } = {}) {
  const client = new Client({ name: 'fastmcp-bridge-demo', version: '0.1.0' });
  const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : undefined;
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { requestInit }));
  try {
    const server = client.getServerVersion();
    log(`connected to ${endpoint} (server ${server?.name} ${server?.version})`);
    const { tools } = await client.listTools();
    log(`tools: ${tools.map((t) => t.name).join(', ')}`);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'hello from the demo client' } });
    log(`echo -> ${JSON.stringify(result.content)}`);
    return { tools: tools.map((t) => t.name), result };
  } finally {
    await client.close();
  }
}
