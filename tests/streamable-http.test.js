// The streamable HTTP session the core holds with a real hub process, over
// TCP on loopback and over a Unix socket: the GET stream, a session the
// server ends (HTTP 404), and DELETE when a session closes.
//
// The GET stream carries what the server sends outside any call; after a 404
// the session is re-initialized transparently.
import assert from 'node:assert/strict';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';

import { repoDir } from './helpers.js';

const labDir = path.join(repoDir, 'tests', 'workspaces', 'lab');
/** Bound of every wait in this file (ms). */
const WAIT_MS = 15_000;

function text(result) {
  assert.equal(result.isError, false, JSON.stringify(result));
  return result.structuredContent?.result ?? result.content[0].text;
}

function tool(name, args = {}) {
  return ['tools/call', { name, arguments: args }];
}

/**
 * Calls `trigger` every 200 ms until `settled` resolves, up to WAIT_MS. The
 * hub drops what it sends while the session's GET stream is not open yet
 * (it opens right after initialization), so one trigger may go unseen.
 */
async function repeatUntil(settled, trigger, what) {
  let done = false;
  const outcome = settled.then((value) => {
    done = true;
    return value;
  });
  const deadline = Date.now() + WAIT_MS;
  while (!done) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT_MS} ms`);
    await trigger();
    await Promise.race([outcome, sleep(200)]);
  }
  return outcome;
}

for (const transport of ['http', 'unix']) describe(`streamable HTTP session over ${transport}`, () => {
  let bridge;
  before(() => {
    bridge = new Bridge({ transport, capabilities: { sampling: {} }, workspaces: { lab: { dir: labDir } } });
  });
  after(() => bridge.close());

  it("delivers a list_changed the server sends outside any call to bridge.on('notification')", async () => {
    let listener;
    const received = new Promise((resolve) => {
      listener = (workspaceId, message) => {
        if (message.method === 'notifications/tools/list_changed') resolve({ workspaceId, message });
      };
      bridge.on('notification', listener);
    });
    try {
      const { workspaceId, message } = await repeatUntil(
        received,
        async () => assert.equal(text(await bridge.call('lab', ...tool('list_changed_soon'))), 'scheduled'),
        'notifications/tools/list_changed',
      );
      assert.equal(workspaceId, 'lab');
      assert.equal(message.jsonrpc, '2.0');
    } finally {
      bridge.off('notification', listener);
    }
  });

  it('answers a sampling request the server sends outside any call with bridge.onRequest', async () => {
    const asked = [];
    bridge.onRequest('sampling/createMessage', (workspaceId, request) => {
      asked.push(workspaceId);
      const prompt = request.params.messages[0].content.text;
      return { role: 'assistant', content: { type: 'text', text: `answered ${prompt}` }, model: 'test-model' };
    });
    let texts = [];
    const deadline = Date.now() + WAIT_MS;
    while (texts.length === 0) {
      assert.ok(Date.now() < deadline, `no sampling request answered within ${WAIT_MS} ms`);
      assert.equal(text(await bridge.call('lab', ...tool('sample_soon', { prompt: 'outside' }))), 'scheduled');
      for (let i = 0; i < 5 && texts.length === 0; i += 1) {
        await sleep(100);
        texts = text(await bridge.call('lab', ...tool('sampled')));
      }
    }
    assert.equal(texts[0], 'answered outside');
    assert.equal(asked[0], 'lab');
  });

  it('initializes a new session when the server ends the current one, and the next call succeeds', async () => {
    const first = text(await bridge.call('lab', ...tool('session_id')));
    const other = bridge.session('lab');
    try {
      // The server ends every session but `other`'s: the default session's
      // id now gets HTTP 404.
      assert.ok(text(await other.call(...tool('end_other_sessions'))) >= 1);
      const second = text(await bridge.call('lab', ...tool('session_id')));
      assert.notEqual(second, first);
      const live = text(await bridge.call('lab', ...tool('sessions')));
      assert.ok(live.includes(second), JSON.stringify(live));
      assert.ok(!live.includes(first), JSON.stringify(live));
      // The new session still gets what the server sends outside any call.
      let listener;
      const received = new Promise((resolve) => {
        listener = (_id, message) => {
          if (message.method === 'notifications/tools/list_changed') resolve(message);
        };
        bridge.on('notification', listener);
      });
      try {
        await repeatUntil(received, () => bridge.call('lab', ...tool('list_changed_soon')), 'list_changed on the new session');
      } finally {
        bridge.off('notification', listener);
      }
    } finally {
      await other.close();
    }
  });

  it('ends the MCP session on the server (DELETE) when a session closes', async () => {
    const session = bridge.session('lab');
    const id = text(await session.call(...tool('session_id')));
    assert.ok(text(await bridge.call('lab', ...tool('sessions'))).includes(id));
    await session.close();
    const live = text(await bridge.call('lab', ...tool('sessions')));
    assert.ok(!live.includes(id), JSON.stringify(live));
    assert.ok(live.length >= 1, 'the default session lives on');
  });

  it("rejects a request the server refuses as too large (HTTP 413) with PAYLOAD_TOO_LARGE", async () => {
    // Within the bridge's limit (raised here to 64 MiB) but over the hub's:
    // the MCP Python SDK refuses request bodies over 4 MiB.
    const big = new Bridge({ transport, maxMessageBytes: 64 * 1024 * 1024, workspaces: { lab: { dir: labDir } } });
    try {
      await assert.rejects(big.call('lab', ...tool('echo', { text: 'x'.repeat(5 * 1024 * 1024) })), (err) => {
        assert.equal(err.code, 'PAYLOAD_TOO_LARGE');
        assert.match(err.message, /HTTP 413/);
        return true;
      });
      assert.equal(text(await big.call('lab', ...tool('echo', { text: 'after' }))), 'after');
    } finally {
      await big.close();
    }
  });
});
