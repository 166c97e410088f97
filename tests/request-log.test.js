// The request log (option `requestLog`): every call recorded in SQLite when
// it settles, read back with bridge.requests() and bridge.requestStats(),
// against the real lab workspace, and through the Express router (calls on
// the MCP endpoint tagged with their MCP session and principal; the REST
// routes over real HTTP). Also: a Node process killed (SIGKILL) while calls
// are being logged leaves a file that opens and reads.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Bridge, BridgeError } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { eventually, initialize, labWorkspace, postMcp, serve } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function text(bridge, name, args, options) {
  const result = await bridge.call('lab', 'tools/call', { name, arguments: args }, options);
  return result.content[0].text;
}

describe('request log', () => {
  let dir;
  let bridge;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-request-log-'));
    bridge = new Bridge({
      workspaces: { lab: labWorkspace('http') },
      requestLog: { path: path.join(dir, 'requests.db'), captureBodies: true, maxBodyBytes: 200, redact: ['text'] },
    });
    await bridge.serverInfo('lab');
  });

  after(async () => {
    await bridge?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records each call when it settles: method, tool, outcome, sizes, timings, caller tags', async () => {
    const since = Date.now();
    assert.equal(await text(bridge, 'echo', { text: 'hunter2' }, { principal: 'alice', mcpSession: 's-1' }), 'hunter2');
    await bridge.call('lab', 'tools/list', {});
    // A tool's own failure is a result (isError), recorded as an error.
    assert.equal((await bridge.call('lab', 'tools/call', { name: 'no_such_tool', arguments: {} })).isError, true);
    await assert.rejects(bridge.call('lab', 'no/such/method', {}), BridgeError);
    await assert.rejects(text(bridge, 'sleep', { seconds: 5 }, { timeoutMs: 200 }), (err) => err.code === 'TIMEOUT');
    const controller = new AbortController();
    const aborted = text(bridge, 'sleep', { seconds: 5 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(aborted, (err) => err.code === 'ABORTED');

    let page;
    await eventually(async () => {
      page = await bridge.requests({ since, workspace: 'lab' });
      return page.entries.length === 6;
    });
    const [cancelled, timeout, unknown, toolError, list, echo] = page.entries;
    assert.deepEqual(
      [echo.method, echo.name, echo.outcome, echo.errorCode, echo.principal, echo.session],
      ['tools/call', 'echo', 'ok', null, 'alice', 's-1'],
    );
    assert.ok(echo.at >= since && echo.at <= Date.now());
    assert.ok(echo.durationMs > 0 && echo.queueMs >= 0 && echo.queueMs <= echo.durationMs);
    assert.ok(echo.requestBytes > 0 && echo.responseBytes > 0);
    assert.match(echo.requestBody, /"\[redacted\]"/);
    assert.doesNotMatch(echo.requestBody, /hunter2/);
    // Redaction is of request bodies: the result shows what the tool returned.
    assert.ok(echo.responseBody.length <= 200 && echo.responseBody.includes('hunter2'));
    assert.deepEqual([list.method, list.name, list.outcome], ['tools/list', null, 'ok']);
    assert.deepEqual([toolError.name, toolError.outcome, toolError.errorCode], ['no_such_tool', 'error', 'TOOL_ERROR']);
    assert.deepEqual([unknown.outcome, unknown.errorCode], ['error', '-32601']);
    assert.deepEqual([timeout.outcome, timeout.errorCode, timeout.name], ['error', 'TIMEOUT', 'sleep']);
    assert.deepEqual([cancelled.outcome, cancelled.errorCode], ['cancelled', 'ABORTED']);
    assert.equal(bridge.requestLogDropped, 0);
  });

  it('filters, pages newest first with a cursor, and sums up per tool', async () => {
    const since = new Date();
    for (let i = 0; i < 5; i += 1) await text(bridge, 'echo', { text: `p${i}` });
    await eventually(async () => (await bridge.requests({ since, name: 'echo' })).entries.length === 5);
    const first = await bridge.requests({ since, name: 'echo', limit: 2 });
    assert.equal(first.entries.length, 2);
    assert.ok(first.entries[0].id > first.entries[1].id);
    const second = await bridge.requests({ since, name: 'echo', limit: 2, cursor: first.cursor });
    const third = await bridge.requests({ since, name: 'echo', limit: 2, cursor: second.cursor });
    assert.equal(third.entries.length, 1);
    assert.equal(third.cursor, null);
    const ids = [...first.entries, ...second.entries, ...third.entries].map((e) => e.id);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual((await bridge.requests({ since, outcome: 'error' })).entries, []);

    const stats = await bridge.requestStats({ since });
    const echo = stats.find((s) => s.name === 'echo');
    assert.deepEqual([echo.workspace, echo.method, echo.count, echo.errors, echo.errorRate], ['lab', 'tools/call', 5, 0, 0]);
    assert.ok(echo.p50Ms > 0 && echo.p95Ms >= echo.p50Ms);
  });

  it('refuses a bad filter, and a bridge without a request log, with INVALID_ARGUMENT', async () => {
    await assert.rejects(bridge.requests({ outcome: 'maybe' }), (err) => err.code === 'INVALID_ARGUMENT');
    await assert.rejects(bridge.requests({ limit: 0 }), (err) => err.code === 'INVALID_ARGUMENT');
    await assert.rejects(bridge.requests({ when: 1 }), (err) => err.code === 'INVALID_ARGUMENT');
    const plain = new Bridge({ workspaces: {} });
    try {
      await assert.rejects(plain.requests(), (err) => err.code === 'INVALID_ARGUMENT' && /requestLog/.test(err.message));
      assert.equal(plain.requestLogDropped, null);
    } finally {
      await plain.close();
    }
    assert.throws(() => new Bridge({ requestLog: { path: '' } }), (err) => err.code === 'INVALID_ARGUMENT');
    assert.throws(() => new Bridge({ requestLog: { path: ':memory:', maxRow: 1 } }), (err) => err.code === 'INVALID_ARGUMENT');
  });

  it('keeps at most maxRows rows', async () => {
    const small = new Bridge({ workspaces: { lab: labWorkspace('http') }, requestLog: { path: ':memory:', maxRows: 3 } });
    try {
      for (let i = 0; i < 8; i += 1) await text(small, 'echo', { text: `r${i}` });
      // Retention runs at most once a second, after a batch.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await text(small, 'echo', { text: 'last' });
      await eventually(async () => (await small.requests()).entries.length === 3, 5000);
      assert.equal((await small.requests()).entries[0].name, 'echo');
    } finally {
      await small.close();
    }
  });
});

describe('request log and a killed process', () => {
  it('leaves a file that opens and reads after SIGKILL under load', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-request-log-kill-'));
    const file = path.join(dir, 'requests.db');
    try {
      const child = fork(path.join(here, 'fixtures', 'request-log-load.js'), [file], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      // The child reports once calls have been logged for a while.
      await new Promise((resolve, reject) => {
        child.on('message', (message) => message === 'loaded' && resolve());
        child.on('exit', (code) => reject(new Error(`the load process exited (${code}) before it was killed`)));
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const bridge = new Bridge({ workspaces: {}, requestLog: { path: file } });
      try {
        const page = await bridge.requests({ limit: 1000 });
        assert.ok(page.entries.length > 0, 'committed batches survive');
        assert.ok(page.entries.every((e) => e.method === 'tools/call' && e.outcome === 'ok'));
      } finally {
        await bridge.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('request log through the Express router', () => {
  let bridge;
  let router;
  let server;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: labWorkspace('http') }, requestLog: { path: ':memory:' } });
    router = bridgeRouter(bridge, { authenticate: (req) => (req.get('authorization') === 'Bearer t' ? 'alice' : null) });
    server = await serve((app) => app.use(router));
  });

  after(async () => {
    await server?.close();
    await router?.close();
    await bridge?.close();
  });

  it('tags the MCP endpoint\'s calls with their MCP session and principal, and serves them at /workspaces/:id/requests', async () => {
    const url = `${server.base}/workspaces/lab/mcp`;
    const auth = { authorization: 'Bearer t' };
    const session = await initialize(url, auth);
    const headers = { ...auth, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const call = await postMcp(url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'via' } } }, headers);
    assert.equal((await call.json()).result.content[0].text, 'via');

    let page;
    await eventually(async () => {
      const response = await fetch(`${server.base}/workspaces/lab/requests?name=echo&limit=10`, { headers: auth });
      assert.equal(response.status, 200);
      page = await response.json();
      return page.entries.length === 1;
    });
    assert.deepEqual(
      [page.entries[0].session, page.entries[0].principal, page.entries[0].outcome, page.cursor],
      [session, 'alice', 'ok', null],
    );
    const stats = await (await fetch(`${server.base}/workspaces/lab/requests/stats?method=tools%2Fcall`, { headers: auth })).json();
    assert.deepEqual(stats.stats.map((s) => [s.name, s.count]), [['echo', 1]]);
    const metrics = await (await fetch(`${server.base}/metrics`, { headers: auth })).text();
    assert.match(metrics, /^fastmcp_bridge_request_log_dropped_total 0$/m);
    const bad = await fetch(`${server.base}/workspaces/lab/requests?limit=-1`, { headers: auth });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, 'INVALID_REQUEST');
  });
});
