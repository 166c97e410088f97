// The MCP endpoint's sessionless 2026-07-28 revision, over raw HTTP (fetch,
// node:http where a request needs a header twice), through a real Express
// server on loopback, in front of the real lab workspace: `lab` speaks the
// handshake revisions to the bridge, `modern` the sessionless one.
//
// Covers the envelope checks and their error codes and HTTP statuses (MCP
// 2026-07-28, Basic / Transports / Streamable HTTP; Basic / Errors),
// `server/discover`, the members the revision's results carry, progress on
// the response stream, server requests relayed as `InputRequiredResult`
// rounds (Basic / Multi round-trip requests), cancellation by closing the
// response stream, `subscriptions/listen`, one upstream MCP session per
// client identity, and the handshake revisions served beside it.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { createParser } from 'eventsource-parser';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, labDir, MCP_ACCEPT, serve } from '../helpers.js';

const MODERN = '2026-07-28';
const HANDSHAKE = ['2025-11-25', '2025-06-18', '2025-03-26'];
/** Bound on each request (ms); the endpoint must answer within it. */
const BOUND_MS = 20_000;
/** The router's sessionIdleMs here: how long a call waits for input responses (ms). */
const IDLE_MS = 3000;

/** The reserved `_meta` of a 2026-07-28 request (Basic / _meta). */
function modernMeta(name = 'modern-client', capabilities = {}) {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name, version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}

/** Headers of a 2026-07-28 request for `message`: they mirror its body. */
function modernHeaders(message) {
  const name = message.params?.name ?? message.params?.uri;
  return {
    'content-type': 'application/json',
    accept: MCP_ACCEPT,
    'mcp-protocol-version': MODERN,
    'mcp-method': message.method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
  };
}

/**
 * POSTs a 2026-07-28 request; `meta` is merged over the reserved `_meta`
 * (null: no `_meta` at all), `headers` over the mirrored ones.
 */
function modernPost(url, message, { headers = {}, meta = {}, signal = AbortSignal.timeout(BOUND_MS) } = {}) {
  const params = { ...message.params };
  if (meta !== null) params._meta = { ...modernMeta(), ...meta };
  return fetch(url, {
    method: 'POST',
    headers: { ...modernHeaders(message), ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', ...message, params }),
    signal,
  });
}

/** The JSON-RPC messages of a POST's answer: one JSON body, or every event of an SSE stream. */
async function messagesOf(response) {
  if (!/^text\/event-stream/.test(response.headers.get('content-type') ?? '')) return [await response.json()];
  const messages = [];
  const parser = createParser({ onEvent: (event) => messages.push(JSON.parse(event.data)) });
  parser.feed(await response.text());
  return messages;
}

/** Asserts a rejection: the HTTP status, and a JSON-RPC error of `code` for request `id`. */
async function assertRejected(response, status, id, code) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(body.id, id);
  assert.equal(body.error.code, code, JSON.stringify(body));
  return body;
}

/** A POST with exactly the header lines `headerLines` (a name may repeat), answered as `{ status, text }`. */
function rawPost(url, headerLines, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: headerLines, timeout: BOUND_MS }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('MCP endpoint, sessionless 2026-07-28 revision', () => {
  let bridge;
  let router;
  let server;
  let url;
  let modernUrl;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir }, modern: { dir: labDir, protocol: 'sessionless' } } });
    router = bridgeRouter(bridge, { sessionIdleMs: IDLE_MS });
    server = await serve((app) => app.use(router));
    url = `${server.base}/workspaces/lab/mcp`;
    modernUrl = `${server.base}/workspaces/modern/mcp`;
  });

  after(async () => {
    await server.close();
    await router.close();
    await bridge.close();
  });

  it('answers server/discover with the revisions, the workspace identity and its capabilities, without an MCP session', async () => {
    const response = await modernPost(url, { id: 'd', method: 'server/discover', params: {} });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('mcp-session-id'), null);
    const { result } = await response.json();
    assert.deepEqual(result.supportedVersions, [MODERN, ...HANDSHAKE]);
    assert.equal(result.resultType, 'complete');
    assert.equal(result._meta['io.modelcontextprotocol/serverInfo'].name, 'lab');
    assert.equal(result.serverInfo.name, 'lab');
    assert.ok(result.capabilities.tools, JSON.stringify(result.capabilities));
    // Served through subscriptions/listen.
    assert.equal(result.capabilities.tools.listChanged, true);
    assert.equal(result.capabilities.resources.subscribe, true);
    assert.equal(result.cacheScope, 'private');
    assert.equal(result.ttlMs, 0);
  });

  it('relays requests, adding resultType and the caching hints to results of earlier revisions', async () => {
    const list = await modernPost(url, { id: 1, method: 'tools/list', params: {} });
    assert.equal(list.status, 200);
    const listed = (await list.json()).result;
    assert.ok(listed.tools.some((tool) => tool.name === 'echo'));
    assert.equal(listed.resultType, 'complete');
    assert.equal(listed.ttlMs, 0);
    assert.equal(listed.cacheScope, 'private');

    const call = await modernPost(url, { id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'sessionless' } } });
    assert.equal(call.status, 200);
    const called = (await call.json()).result;
    assert.equal(called.content[0].text, 'sessionless');
    assert.equal(called.resultType, 'complete');
    assert.equal(called.ttlMs, undefined);
  });

  it('accepts an Mcp-Name header in the revision\'s base64 form', async () => {
    const response = await modernPost(
      url,
      { id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: 'encoded' } } },
      { headers: { 'mcp-name': `=?base64?${Buffer.from('echo').toString('base64')}?=` } },
    );
    assert.equal(response.status, 200);
    assert.equal((await response.json()).result.content[0].text, 'encoded');
  });

  it('rejects a request whose headers disagree with its body with 400 HeaderMismatch (-32020), without calling the workspace', async () => {
    const calls = bridge.metrics('lab').requests;
    const echo = { id: 4, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } };
    await assertRejected(await modernPost(url, echo, { headers: { 'mcp-method': 'tools/list' } }), 400, 4, -32020);
    await assertRejected(await modernPost(url, echo, { headers: { 'mcp-name': 'other' } }), 400, 4, -32020);
    const older = { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' };
    await assertRejected(await modernPost(url, echo, { meta: older }), 400, 4, -32020);

    const message = { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: modernMeta() } };
    const twice = await rawPost(url, [
      'host', new URL(url).host, 'content-type', 'application/json', 'accept', MCP_ACCEPT, 'mcp-protocol-version', MODERN,
      'mcp-method', 'tools/list', 'mcp-method', 'tools/list',
    ], JSON.stringify(message));
    assert.equal(twice.status, 400, twice.text);
    twice.body = JSON.parse(twice.text);
    assert.equal(twice.body.error.code, -32020);
    assert.match(twice.body.error.message, /mcp-method/);
    assert.equal(bridge.metrics('lab').requests, calls);
  });

  it("checks a tools/call's Mcp-Param-* headers against the arguments its tool marks with x-mcp-header", async () => {
    const calls = [];
    const call = async (id, args, headers) => {
      const response = await modernPost(url, { id, method: 'tools/call', params: { name: 'routed', arguments: args } }, { headers, meta: modernMeta('router') });
      calls.push(response.status);
      return response;
    };
    // Before any listing of this client's, the endpoint lists the tools itself.
    const ok = await call(40, { region: 'eu-west', shard: 3 }, { 'mcp-param-region': 'eu-west', 'mcp-param-shard': '3' });
    assert.equal((await ok.json()).result.content[0].text, 'eu-west/3/');
    const encoded = await call(41, { region: 'zürich' }, { 'mcp-param-region': `=?base64?${Buffer.from('zürich').toString('base64')}?=` });
    assert.equal((await encoded.json()).result.content[0].text, 'zürich/0/');
    const numeric = await call(42, { region: 'x', shard: 7 }, { 'mcp-param-region': 'x', 'mcp-param-shard': '7.0' });
    assert.equal(numeric.status, 200, 'an integer compares as a number');
    await numeric.body.cancel();
    for (const [id, args, headers, reason] of [
      [43, { region: 'eu' }, {}, /missing/],
      [44, { region: 'eu' }, { 'mcp-param-region': 'us' }, /does not match/],
      [45, { region: 'eu' }, { 'mcp-param-region': 'eu', 'mcp-param-shard': '1' }, /shard is absent/],
      [46, { region: 'eu' }, { 'mcp-param-region': '=?base64?not base64?=' }, /does not match/],
    ]) {
      const body = await assertRejected(await call(id, args, headers), 400, id, -32020);
      assert.match(body.error.message, reason);
    }
  });

  it('rejects a request without the _meta envelope with 400 Invalid params (-32602)', async () => {
    await assertRejected(await modernPost(url, { id: 6, method: 'tools/list', params: {} }, { meta: null }), 400, 6, -32602);
    const noCapabilities = { 'io.modelcontextprotocol/clientCapabilities': undefined };
    const body = JSON.parse(JSON.stringify({ ...modernMeta(), ...noCapabilities }));
    const response = await fetch(url, {
      method: 'POST',
      headers: modernHeaders({ method: 'tools/list' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: body } }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    const rejected = await assertRejected(response, 400, 7, -32602);
    assert.match(rejected.error.message, /clientCapabilities/);
  });

  it('rejects a revision it does not speak with 400 UnsupportedProtocolVersion (-32022) naming the ones it does', async () => {
    const future = '2099-01-01';
    const response = await modernPost(
      url,
      { id: 8, method: 'tools/list', params: {} },
      { headers: { 'mcp-protocol-version': future }, meta: { 'io.modelcontextprotocol/protocolVersion': future } },
    );
    const body = await assertRejected(response, 400, 8, -32022);
    assert.deepEqual(body.error.data, { supported: [MODERN, ...HANDSHAKE], requested: future });
  });

  it('answers a method the workspace lacks with 404 and -32601, a notification with 202, a response with 400', async () => {
    await assertRejected(await modernPost(url, { id: 9, method: 'no/such/method', params: {} }), 404, 9, -32601);
    const notification = await fetch(url, {
      method: 'POST',
      headers: modernHeaders({ method: 'notifications/roots/list_changed' }),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/roots/list_changed', params: { _meta: modernMeta() } }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    assert.equal(notification.status, 202);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, 'mcp-protocol-version': MODERN },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'x', result: {} }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    await assertRejected(response, 400, 'x', -32600);
  });

  it('streams progress on the response before the result', async () => {
    const response = await modernPost(
      url,
      { id: 10, method: 'tools/call', params: { name: 'progress', arguments: { steps: 2, delay: 0.05 } } },
      { meta: { progressToken: 'p-1' } },
    );
    assert.equal(response.status, 200);
    const messages = await messagesOf(response);
    assert.deepEqual(messages.slice(0, -1).map((m) => [m.method, m.params.progressToken, m.params.progress]), [
      ['notifications/progress', 'p-1', 1],
      ['notifications/progress', 'p-1', 2],
    ]);
    assert.equal(messages.at(-1).id, 10);
    assert.equal(messages.at(-1).result.structuredContent.result, 2);
  });

  it("relays a workspace's sampling request as an InputRequiredResult, and the retry's inputResponses as its answer", async () => {
    const call = { id: 11, method: 'tools/call', params: { name: 'sample', arguments: { prompt: 'Say hi' } } };
    const meta = modernMeta('sampler', { sampling: {} });
    const first = await modernPost(url, call, { meta });
    assert.equal(first.status, 200);
    const { result } = await first.json();
    assert.equal(result.resultType, 'input_required');
    const [[key, request]] = Object.entries(result.inputRequests);
    assert.equal(request.method, 'sampling/createMessage');
    assert.equal(request.params.messages[0].content.text, 'Say hi');
    assert.equal(typeof result.requestState, 'string');

    const answer = { role: 'assistant', content: { type: 'text', text: 'hi!' }, model: 'test-model' };
    const retryParams = { ...call.params, inputResponses: { [key]: answer }, requestState: result.requestState };
    const retry = await modernPost(url, { id: 12, method: 'tools/call', params: retryParams }, { meta });
    assert.equal(retry.status, 200);
    const done = await retry.json();
    assert.equal(done.id, 12);
    assert.equal(done.result.content[0].text, 'hi!');
    assert.equal(done.result.resultType, 'complete');

    // The state named a call that has finished.
    const again = await modernPost(url, { id: 13, method: 'tools/call', params: retryParams }, { meta });
    await assertRejected(again, 400, 13, -32602);
  });

  it('ends a call whose server request needs a capability the client did not declare with 400 MissingRequiredClientCapability (-32021)', async () => {
    const call = { id: 47, method: 'tools/call', params: { name: 'sample', arguments: { prompt: 'x' } } };
    const body = await assertRejected(await modernPost(url, call, { meta: modernMeta('no-sampling', {}) }), 400, 47, -32021);
    assert.deepEqual(body.error.data, { requiredCapabilities: { sampling: {} } });
    // The endpoint and the client identity's upstream session serve on.
    const echo = await modernPost(url, { id: 48, method: 'tools/call', params: { name: 'echo', arguments: { text: 'on' } } }, { meta: modernMeta('no-sampling', {}) });
    assert.equal((await echo.json()).result.content[0].text, 'on');
  });

  it('fails the call, not the endpoint, when the retry lacks an input response', async () => {
    const call = { id: 14, method: 'tools/call', params: { name: 'sample', arguments: { prompt: 'x' } } };
    const meta = modernMeta('sampler', { sampling: {} });
    const { result } = await (await modernPost(url, call, { meta })).json();
    const retryParams = { ...call.params, inputResponses: {}, requestState: result.requestState };
    const retry = await modernPost(url, { id: 15, method: 'tools/call', params: retryParams }, { meta });
    const body = await retry.json();
    assert.equal(body.id, 15);
    assert.ok(body.error || body.result.isError, JSON.stringify(body));
  });

  it('cancels a call held for input responses that do not come within sessionIdleMs', async () => {
    const call = { id: 16, method: 'tools/call', params: { name: 'sample', arguments: { prompt: 'x' } } };
    const meta = modernMeta('sampler', { sampling: {} });
    const { result } = await (await modernPost(url, call, { meta })).json();
    await delay(IDLE_MS + 500);
    const [[key]] = Object.entries(result.inputRequests);
    const answer = { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' };
    const retryParams = { ...call.params, inputResponses: { [key]: answer }, requestState: result.requestState };
    await assertRejected(await modernPost(url, { id: 17, method: 'tools/call', params: retryParams }, { meta }), 400, 17, -32602);
  });

  it('relays the InputRequiredResult rounds of a workspace that speaks the sessionless revision itself', async () => {
    const call = { id: 18, method: 'tools/call', params: { name: 'confirm', arguments: { question: 'go?' } } };
    const meta = modernMeta('asker', { elicitation: { form: {} } });
    const { result } = await (await modernPost(modernUrl, call, { meta })).json();
    assert.equal(result.resultType, 'input_required');
    const [[key, request]] = Object.entries(result.inputRequests);
    assert.equal(request.method, 'elicitation/create');
    assert.equal(request.params.message, 'go?');
    const retryParams = { ...call.params, inputResponses: { [key]: { action: 'accept', content: { ok: true } } }, requestState: result.requestState };
    const done = await (await modernPost(modernUrl, { id: 19, method: 'tools/call', params: retryParams }, { meta })).json();
    assert.equal(done.result.content[0].text, 'go?:accept:{"ok": true}');
  });

  it('cancels the call on the workspace when the client closes the response stream', async () => {
    const tag = `closed-${Date.now()}`;
    const controller = new AbortController();
    const pending = modernPost(url, { id: 20, method: 'tools/call', params: { name: 'sleep_started', arguments: { seconds: 30, tag } } }, {
      meta: { progressToken: 'started' },
      signal: controller.signal,
    });
    const response = await pending;
    // The tool reports progress once it runs; the stream is then open.
    const reader = response.body.getReader();
    await reader.read();
    controller.abort();
    await eventually(async () => {
      const answer = await (await modernPost(url, { id: 21, method: 'tools/call', params: { name: 'cancelled', arguments: {} } })).json();
      return answer.result.structuredContent.result.includes(tag);
    }, BOUND_MS);
  });

  it('opens a subscriptions/listen stream, acknowledged, and subscribes the upstream session to its resources until it closes', async () => {
    const meta = modernMeta('listener');
    const subscribed = async (id) => {
      const body = await (await modernPost(url, { id, method: 'tools/call', params: { name: 'subscriptions', arguments: {} } }, { meta })).json();
      return body.result.structuredContent.result;
    };
    const controller = new AbortController();
    const listen = await modernPost(
      url,
      { id: 'listen-1', method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true, resourceSubscriptions: ['lab://a'] } } },
      { meta, signal: controller.signal },
    );
    assert.equal(listen.status, 200);
    assert.match(listen.headers.get('content-type'), /^text\/event-stream/);
    const frames = [];
    const parser = createParser({ onEvent: (event) => frames.push(JSON.parse(event.data)) });
    const reader = listen.body.getReader();
    const decoder = new TextDecoder();
    const next = async () => {
      while (!frames.length) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'the listen stream ended');
        parser.feed(decoder.decode(value, { stream: true }));
      }
      return frames.shift();
    };
    const ack = await next();
    assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
    assert.deepEqual(ack.params, {
      notifications: { toolsListChanged: true, resourceSubscriptions: ['lab://a'] },
      _meta: { 'io.modelcontextprotocol/subscriptionId': 'listen-1' },
    });
    assert.deepEqual(await subscribed(30), ['lab://a']);
    await modernPost(url, { id: 31, method: 'tools/call', params: { name: 'resource_updated_soon', arguments: { uri: 'lab://a' } } }, { meta });
    const updated = await next();
    assert.equal(updated.method, 'notifications/resources/updated');
    assert.equal(updated.params.uri, 'lab://a');
    assert.equal(updated.params._meta['io.modelcontextprotocol/subscriptionId'], 'listen-1');
    controller.abort();
    await eventually(async () => (await subscribed(32)).length === 0, BOUND_MS);
  });

  it('keeps one upstream MCP session per client identity, which the workspace sees', async () => {
    const ask = async (id, name, tool) => {
      const body = await (await modernPost(url, { id, method: 'tools/call', params: { name: tool, arguments: {} } }, { meta: modernMeta(name) })).json();
      return body.result.content[0].text;
    };
    assert.equal(await ask(22, 'alice', 'client_name'), 'alice');
    assert.equal(await ask(23, 'bob', 'client_name'), 'bob');
    const alice = await ask(24, 'alice', 'session_id');
    assert.equal(await ask(25, 'alice', 'session_id'), alice);
    assert.notEqual(await ask(26, 'bob', 'session_id'), alice);
  });

  it('still serves the handshake revisions, and answers server/discover without the revision header with a fallback 400', async () => {
    const probe = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'probe', method: 'server/discover', params: {} }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    await assertRejected(probe, 400, 'probe', -32601);
    const init = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: MCP_ACCEPT },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'handshake', version: '1.0.0' } },
      }),
      signal: AbortSignal.timeout(BOUND_MS),
    });
    assert.equal(init.status, 200);
    assert.equal((await init.json()).result.protocolVersion, '2025-11-25');
    assert.ok(init.headers.get('mcp-session-id'));
  });
});

describe('MCP endpoint holding sessionless calls for input responses, maxSessions 1', () => {
  it('ends a call with 503 TOO_MANY_SESSIONS when maxSessions calls are held already, and holds one again once that one is answered', async () => {
    const bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    const router = bridgeRouter(bridge, { maxSessions: 1 });
    const server = await serve((app) => app.use(router));
    try {
      const url = `${server.base}/workspaces/lab/mcp`;
      const meta = modernMeta('held', { sampling: {} });
      const sample = (id, extra = {}) => modernPost(url, { id, method: 'tools/call', params: { name: 'sample', arguments: { prompt: `p${id}` }, ...extra } }, { meta });
      const first = (await (await sample(1)).json()).result;
      assert.equal(first.resultType, 'input_required');
      const refused = await assertRejected(await sample(2), 503, 2, -32600);
      assert.equal(refused.error.data.code, 'TOO_MANY_SESSIONS');
      const [[key]] = Object.entries(first.inputRequests);
      const answer = { role: 'assistant', content: { type: 'text', text: 'one' }, model: 'm' };
      const done = await (await sample(3, { inputResponses: { [key]: answer }, requestState: first.requestState })).json();
      assert.equal(done.result.content[0].text, 'one');
      assert.equal((await (await sample(4)).json()).result.resultType, 'input_required');
    } finally {
      await server.close();
      await router.close();
      await bridge.close();
    }
  });
});

describe('MCP endpoint closing with sessionless subscriptions/listen streams open', () => {
  it('ends each stream with the listen request\'s result', async () => {
    const bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    const router = bridgeRouter(bridge);
    const server = await serve((app) => app.use(router));
    try {
      const url = `${server.base}/workspaces/lab/mcp`;
      const listen = await modernPost(url, { id: 'l', method: 'subscriptions/listen', params: { notifications: { promptsListChanged: true } } });
      assert.equal(listen.status, 200);
      const text = listen.text();
      await router.close();
      const frames = [];
      const parser = createParser({ onEvent: (event) => frames.push(JSON.parse(event.data)) });
      parser.feed(await text);
      assert.equal(frames[0].method, 'notifications/subscriptions/acknowledged');
      assert.deepEqual(frames[0].params.notifications, { promptsListChanged: true });
      assert.deepEqual(frames.at(-1), {
        jsonrpc: '2.0',
        id: 'l',
        result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 'l' } },
      });
    } finally {
      await server.close();
      await router.close();
      await bridge.close();
    }
  });
});
