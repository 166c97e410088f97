// The official TS SDK client through the MCP endpoint (real Express server,
// real lab workspace) in both handshake-era revisions, 2025-06-18 and
// 2025-11-25: initialize, tools/list, tools/call, progress and cancellation.
//
// The SDK client always offers its newest revision (2025-11-25) in
// initialize; for 2025-06-18 its `fetch` option offers that revision
// instead, as an older client would, and the client then speaks whatever the
// server negotiated.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, labDir, serve } from '../helpers.js';

function text(result) {
  assert.equal(result.isError, false, JSON.stringify(result));
  return result.content[0].text;
}

describe('MCP endpoint with the official TS SDK client in both protocol eras', () => {
  let bridge;
  let router;
  let server;
  const clients = [];

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge);
    server = await serve((app) => app.use(router));
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    await server.close();
    await router.close();
    await bridge.close();
  });

  /**
   * Connects a client that offers `version` in initialize; `headers` collects
   * the MCP-Protocol-Version header of every later POST.
   */
  async function connect(version) {
    const headers = [];
    const offering = async (url, init = {}) => {
      let { body } = init;
      if (typeof body === 'string') {
        const message = JSON.parse(body);
        if (message.method === 'initialize') {
          body = JSON.stringify({ ...message, params: { ...message.params, protocolVersion: version } });
        } else if ((init.method ?? 'GET') === 'POST') {
          headers.push(new Headers(init.headers).get('mcp-protocol-version'));
        }
      }
      return fetch(url, { ...init, body });
    };
    const client = new Client({ name: `sdk-${version}`, version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${server.base}/workspaces/lab/mcp`), { fetch: offering });
    await client.connect(transport);
    clients.push(client);
    return { client, transport, headers };
  }

  for (const version of ['2025-06-18', '2025-11-25']) {
    describe(`MCP ${version}`, () => {
      let client;
      let transport;
      let headers;

      before(async () => {
        ({ client, transport, headers } = await connect(version));
      });

      it('negotiates the offered revision and sends it in MCP-Protocol-Version', async () => {
        assert.equal(transport.protocolVersion, version);
        assert.equal(client.getServerVersion().name, 'lab');
        await client.listTools();
        assert.ok(headers.length >= 1);
        assert.ok(headers.every((header) => header === version), JSON.stringify(headers));
      });

      it('lists the tools and calls one', async () => {
        const { tools } = await client.listTools();
        assert.ok(tools.some((tool) => tool.name === 'echo'));
        assert.equal(text(await client.callTool({ name: 'echo', arguments: { text: version } })), version);
      });

      it('delivers progress in order before the result', async () => {
        const seen = [];
        const result = await client.callTool({ name: 'progress', arguments: { steps: 3, delay: 0.1 } }, undefined, {
          onprogress: (progress) => seen.push([progress.progress, progress.total, progress.message]),
        });
        assert.equal(result.structuredContent.result, 3);
        assert.deepEqual(seen, [[1, 3, 'step 1'], [2, 3, 'step 2'], [3, 3, 'step 3']]);
      });

      it('cancels the call on the workspace when the client aborts it', async () => {
        const tag = `sdk-${version}-${Date.now()}`;
        const controller = new AbortController();
        const call = client.callTool({ name: 'sleep_started', arguments: { seconds: 30, tag } }, undefined, {
          signal: controller.signal,
          // The call runs on the server once it reports progress 0.
          onprogress: () => controller.abort(),
          timeout: 60_000,
        });
        await assert.rejects(call);
        await eventually(async () => {
          const result = await client.callTool({ name: 'cancelled', arguments: {} });
          return result.structuredContent.result.includes(tag);
        }, 10_000);
      });
    });
  }
});
