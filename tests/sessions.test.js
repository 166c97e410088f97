// MCP sessions and server-to-client requests against a real FastMCP
// workspace: bridge.session(), and onRequest at call, session and bridge level.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Bridge, Session } from 'fastmcp-bridge';

import { repoDir } from './helpers.js';

const labDir = path.join(repoDir, 'tests', 'workspaces', 'lab');
const SAMPLING = { sampling: {} };

function textResult(result) {
  assert.equal(result.isError, false, JSON.stringify(result));
  return result.content[0].text;
}

function sampled(text) {
  return { role: 'assistant', content: { type: 'text', text }, model: 'test-model' };
}

describe('sessions and server requests', () => {
  let bridge;
  before(() => {
    bridge = new Bridge({ capabilities: SAMPLING, workspaces: { lab: { dir: labDir } } });
  });
  after(() => bridge.close());

  it('answers a server request with the call-level handler', async () => {
    const seen = [];
    const result = await bridge.call('lab', 'tools/call', { name: 'sample', arguments: { prompt: 'ping?' } }, {
      onRequest: (request) => {
        seen.push(request.method);
        return sampled(`call saw: ${request.params.messages[0].content.text}`);
      },
    });
    assert.equal(textResult(result), 'call saw: ping?');
    assert.deepEqual(seen, ['sampling/createMessage']);
  });

  it('falls back to the bridge-level handler with the workspace id', async () => {
    bridge.onRequest('sampling/createMessage', (workspaceId, request) =>
      sampled(`bridge saw ${workspaceId}: ${request.params.messages[0].content.text}`),
    );
    const result = await bridge.call('lab', 'tools/call', { name: 'sample', arguments: { prompt: 'hi' } });
    assert.equal(textResult(result), 'bridge saw lab: hi');
  });

  it('turns a thrown error with a numeric code into that JSON-RPC error for the server', async () => {
    const result = await bridge.call('lab', 'tools/call', { name: 'sample', arguments: { prompt: 'x' } }, {
      onRequest: () => {
        throw Object.assign(new Error('user declined'), { code: -1 });
      },
    });
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /user declined/);
  });

  it('opens a session with its own clientInfo and request handlers', async () => {
    const session = bridge.session('lab', { clientInfo: { name: 'downstream-client', version: '1.0.0' }, capabilities: SAMPLING });
    assert.ok(session instanceof Session);
    try {
      session.onRequest('sampling/createMessage', () => sampled('from the session handler'));
      assert.equal(textResult(await session.call('tools/call', { name: 'client_name', arguments: {} })), 'downstream-client');
      assert.equal(textResult(await bridge.call('lab', 'tools/call', { name: 'client_name', arguments: {} })), 'fastmcp-bridge');
      const sample = await session.call('tools/call', { name: 'sample', arguments: { prompt: 'p' } });
      assert.equal(textResult(sample), 'from the session handler');
      const info = await session.serverInfo();
      assert.equal(info.serverInfo.name, 'lab');
    } finally {
      await session.close();
    }
    await assert.rejects(session.call('tools/list'), { code: 'CLOSED' });
  });

  it("delivers a session's server notifications to that session only", async () => {
    const session = bridge.session('lab');
    const onBridge = [];
    const listener = (_id, message) => onBridge.push(message.method);
    bridge.on('notification', listener);
    try {
      const received = new Promise((resolve) => session.once('notification', resolve));
      await session.call('tools/call', { name: 'log', arguments: { message: 'for the session' } });
      const message = await received;
      assert.equal(message.method, 'notifications/message');
      assert.ok(!onBridge.includes('notifications/message'));
    } finally {
      bridge.off('notification', listener);
      await session.close();
    }
  });

  it('shares the workspace queue and metrics with bridge.call', async () => {
    const session = bridge.session('lab');
    const before = bridge.metrics('lab').requests;
    await session.call('tools/list');
    assert.equal(bridge.metrics('lab').requests, before + 1);
    await session.close();
  });

  it('rejects unknown session options and workspaces', () => {
    assert.throws(() => bridge.session('lab', { client: {} }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => bridge.session('nope'), { code: 'UNKNOWN_WORKSPACE' });
  });
});
