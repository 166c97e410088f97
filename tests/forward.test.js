// session.forward(): a JSON-RPC request relayed as the bytes an MCP client
// sent, against a real FastMCP workspace (the lab hub).
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { Bridge, BridgeError } from 'fastmcp-bridge';

import { eventually, labDir } from './helpers.js';

const bytes = (message) => Buffer.from(typeof message === 'string' ? message : JSON.stringify(message));
const echo = (id, text) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });

async function text(forwarded) {
  const response = JSON.parse(await forwarded.response);
  assert.equal(response.jsonrpc, '2.0');
  assert.equal(response.result.isError, false, JSON.stringify(response));
  return { id: response.id, text: response.result.content[0].text };
}

describe('session.forward', () => {
  let bridge;
  let session;
  before(async () => {
    bridge = new Bridge({ capabilities: { sampling: {} }, workspaces: { lab: { dir: labDir } } });
    session = bridge.session('lab');
    await session.serverInfo();
  });
  after(async () => {
    await session.close();
    await bridge.close();
  });

  it('relays a request as it came and answers with the whole response under its id', async () => {
    const byString = session.forward(bytes(echo('req-1', 'a')));
    assert.equal(byString.id, '"req-1"');
    assert.equal(byString.method, 'tools/call');
    assert.deepEqual(await text(byString), { id: 'req-1', text: 'a' });

    const byNumber = session.forward(bytes(` ${JSON.stringify(echo(42, 'b'))}\n`));
    assert.equal(byNumber.id, '42');
    assert.deepEqual(await text(byNumber), { id: 42, text: 'b' });

    // Params go upstream untouched: the server sees the client's own _meta members.
    const meta = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'example.com/tenant': 't1' };
    const traced = session.forward(bytes({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'trace_context', arguments: {}, _meta: meta } }));
    const response = JSON.parse(await traced.response);
    const seen = JSON.parse(response.result.content[0].text);
    assert.equal(seen.meta['example.com/tenant'], 't1');
    assert.equal(seen.meta.traceparent, meta.traceparent);
  });

  it('leaves what it does not relay as it came to the caller, sending nothing', async () => {
    const before = bridge.metrics('lab').requests;
    for (const message of [
      'not json',
      '',
      [echo(1, 'batch')],
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '1.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: null, method: 'tools/list' },
      '{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}',
      '{"jsonrpc":"2.0","id":"a\\"b","method":"tools/list"}',
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} },
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 1, method: 'tools/list', params: 'text' },
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'p' }, _meta: { progressToken: 'p1' } } },
      '{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}',
    ]) {
      assert.equal(session.forward(bytes(message)), null, JSON.stringify(message));
    }
    await delay(50);
    assert.equal(bridge.metrics('lab').requests, before);
  });

  it("rejects with the server's JSON-RPC error as a BridgeError", async () => {
    const forwarded = session.forward(bytes({ jsonrpc: '2.0', id: 'x', method: 'no/such/method', params: {} }));
    await assert.rejects(forwarded.response, (err) => err instanceof BridgeError && err.rpcCode === -32601);
  });

  it('cancels a request in flight: ABORTED here, notifications/cancelled for the server', async () => {
    const forwarded = session.forward(bytes({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'sleep', arguments: { seconds: 10, tag: 'forwarded' } } }));
    await delay(300);
    const started = performance.now();
    forwarded.cancel();
    await assert.rejects(forwarded.response, { code: 'ABORTED' });
    assert.ok(performance.now() - started < 2000);
    forwarded.cancel(); // after it settled: nothing
    await eventually(async () => (await bridge.call('lab', 'tools/call', { name: 'cancelled', arguments: {} })).structuredContent.result.includes('forwarded'));
  });

  it("answers the request's own server requests with onRequest", async () => {
    const seen = [];
    const forwarded = session.forward(bytes({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'sample', arguments: { prompt: 'hi?' } } }), {
      onRequest: (request) => {
        seen.push(request.method);
        return { role: 'assistant', content: { type: 'text', text: `sampled ${request.params.messages[0].content.text}` }, model: 'm' };
      },
      mcpSession: 'downstream-1',
    });
    assert.deepEqual(await text(forwarded), { id: 8, text: 'sampled hi?' });
    assert.deepEqual(seen, ['sampling/createMessage']);
  });

  it('refuses bad arguments, and fails with CLOSED once its session is closed', async () => {
    assert.throws(() => session.forward('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => session.forward(bytes(echo(1, 'x')), { signal: new AbortController().signal }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => session.forward(bytes(echo(1, 'x')), { onProgress: () => {} }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => session.forward(bytes(echo(1, 'x')), { nope: 1 }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => session.forward(bytes(echo(1, 'x')), { principal: 7 }), { code: 'INVALID_ARGUMENT' });
    // The native side checks these: the call fails rather than the forward.
    await assert.rejects(session.forward(bytes(echo(1, 'x')), { priority: 'urgent' }).response, { code: 'INVALID_ARGUMENT' });

    const other = bridge.session('lab');
    await other.serverInfo();
    await other.close();
    const forwarded = other.forward(bytes(echo(9, 'late')));
    assert.equal(forwarded.id, '9');
    await assert.rejects(forwarded.response, { code: 'CLOSED' });
  });
});
