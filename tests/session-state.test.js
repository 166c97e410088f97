// The logging level and resource subscriptions a client set on its MCP
// session survive that session being replaced (process restart over http,
// unix and stdio; HTTP 404), against the real lab workspace.
//
// What a client sets on its MCP session and the server keeps for it, the
// logging level (`logging/setLevel`) and resource subscriptions
// (`resources/subscribe` / `resources/unsubscribe`), is replayed on the new
// session. The lab workspace keeps subscriptions per MCP session and filters
// logging per session, so a lost setting shows.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';

import { labWorkspace } from './helpers.js';

const tool = (name, args = {}) => ['tools/call', { name, arguments: args }];
const parsed = (result) => {
  assert.equal(result.isError, false, JSON.stringify(result));
  if (result.structuredContent?.result !== undefined) return result.structuredContent.result;
  const { text } = result.content[0];
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/**
 * The logging notifications a call of the lab's `log` tool at `level`
 * delivers to `target` (a Session, or the bridge for its default session).
 * A notification the server sends goes before the call's response; a
 * following call's round trip gives it time to reach its listener.
 */
async function logsOf(target, call, level) {
  const seen = [];
  const listener = (...args) => {
    const message = args.at(-1);
    if (message.method === 'notifications/message') seen.push(message.params.level);
  };
  target.on('notification', listener);
  try {
    await call(...tool('log', { message: `at ${level}`, level }));
    await call(...tool('echo', { text: 'after' }));
  } finally {
    target.off('notification', listener);
  }
  return seen;
}

/** Sets the state under test on a session: one subscription left, level `error`. */
async function setState(call) {
  await call('resources/subscribe', { uri: 'lab://a' });
  await call('resources/subscribe', { uri: 'lab://b' });
  await call('resources/subscribe', { uri: 'lab://b' });
  await call('resources/unsubscribe', { uri: 'lab://a' });
  await call('logging/setLevel', { level: 'error' });
}

/** Asserts the state of `setState` on the server's current session. */
async function assertState(target, call, when) {
  assert.deepEqual(parsed(await call(...tool('subscriptions'))), ['lab://b'], `subscriptions ${when}`);
  assert.deepEqual(await logsOf(target, call, 'info'), [], `an info log ${when} is below the level`);
  assert.deepEqual(await logsOf(target, call, 'error'), ['error'], `an error log ${when} is delivered`);
}

for (const transport of ['http', 'unix', 'stdio']) {
  describe(`session state over ${transport}`, () => {
    // A bridge, and so a process with no state set, per test.
    let bridge;
    beforeEach(() => {
      bridge = new Bridge({ workspaces: { lab: labWorkspace(transport) } });
    });
    afterEach(() => bridge.close());
    // Over stdio the process has one MCP session, which every session
    // shares, and its notifications go to the bridge.
    const logTarget = (session) => (transport === 'stdio' ? bridge : session);

    it("sets a session's logging level and subscriptions again after a process restart", async () => {
      const session = bridge.session('lab');
      const call = (...args) => session.call(...args);
      try {
        // Before any state is set the server logs at every level and
        // holds no subscription: what a lost state would look like.
        assert.deepEqual(parsed(await call(...tool('subscriptions'))), []);
        assert.deepEqual(await logsOf(logTarget(session), call, 'info'), ['info']);
        await setState(call);
        await assertState(logTarget(session), call, 'before the restart');
        const { pid } = bridge.status('lab');
        await bridge.restart('lab');
        assert.notEqual(bridge.status('lab').pid, pid);
        await assertState(logTarget(session), call, 'after the restart');
      } finally {
        await session.close();
      }
    });

    it("sets the default session's state again after a process restart", async () => {
      const call = (...args) => bridge.call('lab', ...args);
      await call('resources/subscribe', { uri: 'lab://default' });
      await bridge.restart('lab');
      assert.deepEqual(parsed(await call(...tool('subscriptions'))), ['lab://default']);
      await call('resources/unsubscribe', { uri: 'lab://default' });
      await bridge.restart('lab');
      assert.deepEqual(parsed(await call(...tool('subscriptions'))), []);
    });

    it('records only what the server accepted', async () => {
      const session = bridge.session('lab');
      const call = (...args) => session.call(...args);
      try {
        await assert.rejects(call('logging/setLevel', { level: 'loudest' }), { name: 'BridgeError' });
        await assert.rejects(call('resources/subscribe', {}), { name: 'BridgeError' });
        await bridge.restart('lab');
        // Nothing was recorded: the new session logs at every level and
        // holds no subscription.
        assert.deepEqual(await logsOf(logTarget(session), call, 'info'), ['info']);
        assert.deepEqual(parsed(await call(...tool('subscriptions'))), []);
      } finally {
        await session.close();
      }
    });
  });
}

describe('session state over http when the server ends the MCP session', () => {
  let bridge;
  before(() => {
    bridge = new Bridge({ workspaces: { lab: labWorkspace('http') } });
  });
  after(() => bridge.close());

  it('sets the state again on the MCP session that re-initializing starts (HTTP 404)', async () => {
    const session = bridge.session('lab');
    const other = bridge.session('lab');
    const call = (...args) => session.call(...args);
    try {
      await setState(call);
      const first = parsed(await call(...tool('session_id')));
      assert.ok(parsed(await other.call(...tool('end_other_sessions'))) >= 1);
      // The same process: only the MCP session was replaced.
      assert.notEqual(parsed(await call(...tool('session_id'))), first);
      await assertState(session, call, 'on the new MCP session');
    } finally {
      await Promise.all([session.close(), other.close()]);
    }
  });
});
