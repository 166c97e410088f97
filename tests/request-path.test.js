// The core request path against a real FastMCP workspace (tests/workspaces/lab):
// queue and concurrency limits, priority, deadlines, cancellation, progress,
// size limits, server notifications and metrics.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { Bridge, BridgeError } from 'fastmcp-bridge';

import { eventually, labWorkspace } from './helpers.js';



function tool(name, args = {}) {
  return { name, arguments: args };
}

/** The tool's structured result. */
async function callTool(bridge, id, name, args, options) {
  const result = await bridge.call(id, 'tools/call', tool(name, args), options);
  assert.equal(result.isError, false, JSON.stringify(result));
  return result.structuredContent.result;
}


for (const transport of ['http', 'unix', 'stdio']) describe(`request path over ${transport}`, () => {
  let bridge;
  before(async () => {
    bridge = new Bridge({
      workspaces: {
        lab: labWorkspace(transport),
        // The same workspace in a second process with one slot, for ordering.
        serial: labWorkspace(transport, { maxConcurrent: 1, maxQueue: 10 }),
        small: labWorkspace(transport, { maxMessageBytes: 100_000 }),
      },
    });
    await Promise.all(bridge.workspaceIds.map((id) => bridge.serverInfo(id)));
  });
  after(() => bridge.close());

  it('refuses exactly what exceeds maxConcurrent + maxQueue with QUEUE_FULL', async () => {
    const calls = Array.from({ length: 300 }, (_, i) => callTool(bridge, 'lab', 'sleep', { seconds: 0.3, tag: `q${i}` }));
    const settled = await Promise.allSettled(calls);
    const rejected = settled.filter((s) => s.status === 'rejected');
    assert.equal(rejected.length, 80);
    assert.ok(rejected.every((s) => s.reason instanceof BridgeError && s.reason.code === 'QUEUE_FULL'));
    const results = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
    assert.deepEqual(results, Array.from({ length: 220 }, (_, i) => `q${i}`));
    const metrics = bridge.metrics('lab');
    assert.equal(metrics.rejected, 80);
    assert.equal(metrics.inFlight + metrics.queued, 0);
  });

  it('serves higher priority first and FIFO within one priority, as the server sees it', async () => {
    const blocker = callTool(bridge, 'serial', 'sleep', { seconds: 0.5 });
    await eventually(() => bridge.metrics('serial').inFlight === 1);
    const queued = [
      ['low-1', 'low'],
      ['normal-1', 'normal'],
      ['high-1', 'high'],
      ['normal-2', undefined],
      ['high-2', 'high'],
    ].map(([tag, priority]) => callTool(bridge, 'serial', 'record', { tag }, { priority }));
    await Promise.all([blocker, ...queued]);
    const order = await callTool(bridge, 'serial', 'order');
    assert.deepEqual(order, ['high-1', 'high-2', 'normal-1', 'normal-2', 'low-1']);
  });

  it('serves MCP sessions in turns within a priority: a flood from one delays another client\'s call by at most one slot', async () => {
    const before = (await callTool(bridge, 'serial', 'order')).length;
    const other = bridge.session('serial');
    try {
      const blocker = callTool(bridge, 'serial', 'sleep', { seconds: 0.5 });
      await eventually(() => bridge.metrics('serial').inFlight === 1);
      // maxQueue is 10 on this workspace: 8 from the flood, then the other client's one.
      const flood = Array.from({ length: 8 }, (_, i) => callTool(bridge, 'serial', 'record', { tag: `flood-${i}` }));
      await eventually(() => bridge.metrics('serial').queued === 8);
      const single = other.call('tools/call', { name: 'record', arguments: { tag: 'other' } });
      await Promise.all([blocker, ...flood, single]);
      const order = (await callTool(bridge, 'serial', 'order')).slice(before);
      assert.ok(order.indexOf('other') <= 1, `served at ${order.indexOf('other')}: ${order.join()}`);
      assert.deepEqual(order.filter((tag) => tag !== 'other'), Array.from({ length: 8 }, (_, i) => `flood-${i}`));
    } finally {
      await other.close();
    }
  });

  it('times out with TIMEOUT and the tool sees notifications/cancelled', async () => {
    const started = Date.now();
    await assert.rejects(callTool(bridge, 'lab', 'sleep', { seconds: 10, tag: 'timed-out' }, { timeoutMs: 400 }), {
      code: 'TIMEOUT',
    });
    assert.ok(Date.now() - started < 3000);
    await eventually(async () => (await callTool(bridge, 'lab', 'cancelled')).includes('timed-out'));
  });

  it('counts queue wait in the timeout', async () => {
    const blocker = callTool(bridge, 'serial', 'sleep', { seconds: 1 });
    await eventually(() => bridge.metrics('serial').inFlight === 1);
    await assert.rejects(callTool(bridge, 'serial', 'record', { tag: 'never' }, { timeoutMs: 200 }), { code: 'TIMEOUT' });
    await blocker;
    assert.equal(bridge.metrics('serial').queued, 0);
    assert.ok(!(await callTool(bridge, 'serial', 'order')).includes('never'));
  });

  it('aborts an in-flight call with ABORTED and cancels it on the server', async () => {
    const controller = new AbortController();
    const call = callTool(bridge, 'lab', 'sleep', { seconds: 10, tag: 'aborted' }, { signal: controller.signal });
    await delay(300);
    controller.abort(new Error('user left'));
    await assert.rejects(call, (err) => {
      assert.equal(err.code, 'ABORTED');
      assert.equal(err.cause.message, 'user left');
      return true;
    });
    await eventually(async () => (await callTool(bridge, 'lab', 'cancelled')).includes('aborted'));
  });

  it('removes an aborted call from the queue; it never runs', async () => {
    const blocker = callTool(bridge, 'serial', 'sleep', { seconds: 0.5 });
    await eventually(() => bridge.metrics('serial').inFlight === 1);
    const controller = new AbortController();
    const queued = callTool(bridge, 'serial', 'record', { tag: 'dequeued' }, { signal: controller.signal });
    await eventually(() => bridge.metrics('serial').queued === 1);
    controller.abort();
    await assert.rejects(queued, { code: 'ABORTED' });
    assert.equal(bridge.metrics('serial').queued, 0);
    await blocker;
    assert.ok(!(await callTool(bridge, 'serial', 'order')).includes('dequeued'));
  });

  it('rejects at once for an already-aborted signal and sends nothing', async () => {
    const before = bridge.metrics('serial').requests;
    await assert.rejects(callTool(bridge, 'serial', 'record', { tag: 'pre-aborted' }, { signal: AbortSignal.abort() }), {
      code: 'ABORTED',
    });
    assert.equal(bridge.metrics('serial').requests, before);
    assert.ok(!(await callTool(bridge, 'serial', 'order')).includes('pre-aborted'));
  });

  it('delivers progress in order before the call resolves', async () => {
    const seen = [];
    const result = await callTool(bridge, 'lab', 'progress', { steps: 5, delay: 0.02 }, { onProgress: (p) => seen.push(p) });
    assert.equal(result, 5);
    assert.deepEqual(
      seen.map((p) => p.progress),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(seen[0], { progress: 1, total: 5, message: 'step 1' });
  });

  it('resetTimeoutOnProgress extends the deadline, maxTotalTimeoutMs caps it', async () => {
    const args = { steps: 6, delay: 0.25 }; // 1.5 s in all, 0.25 s between updates
    const onProgress = () => {};
    assert.equal(await callTool(bridge, 'lab', 'progress', args, { timeoutMs: 700, resetTimeoutOnProgress: true, onProgress }), 6);
    await assert.rejects(callTool(bridge, 'lab', 'progress', args, { timeoutMs: 700, onProgress }), { code: 'TIMEOUT' });
    await assert.rejects(
      callTool(bridge, 'lab', 'progress', args, { timeoutMs: 700, resetTimeoutOnProgress: true, maxTotalTimeoutMs: 1000, onProgress }),
      { code: 'TIMEOUT' },
    );
  });

  it('rejects an oversized response or request with PAYLOAD_TOO_LARGE; other calls are unaffected', async () => {
    const neighbour = callTool(bridge, 'small', 'sleep', { seconds: 0.3, tag: 'neighbour' });
    // Well before the default 30 s deadline: over stdio the overlong line
    // is tied to its call by the id at its start.
    await assert.rejects(callTool(bridge, 'small', 'large', { size: 200_000 }, { timeoutMs: 20_000 }), { code: 'PAYLOAD_TOO_LARGE' });
    if (transport === 'stdio') assert.ok(bridge.logs('small').some((l) => l.line.includes('was dropped')));
    await assert.rejects(callTool(bridge, 'small', 'echo', { text: 'y'.repeat(200_000) }), { code: 'PAYLOAD_TOO_LARGE' });
    assert.equal(await neighbour, 'neighbour');
    assert.equal((await callTool(bridge, 'small', 'large', { size: 20_000 })).length, 20_000);
  });

  it('emits server notifications not tied to a call', async () => {
    const received = new Promise((resolve) => {
      bridge.on('notification', function listener(workspaceId, message) {
        if (message.method === 'notifications/message') {
          bridge.off('notification', listener);
          resolve({ workspaceId, message });
        }
      });
    });
    await callTool(bridge, 'lab', 'log', { message: 'hello log' });
    const { workspaceId, message } = await received;
    assert.equal(workspaceId, 'lab');
    assert.equal(message.params.data.msg ?? message.params.data, 'hello log');
  });

  it('leaves no call in flight or queued after 10,000 calls', { timeout: 120_000 }, async () => {
    const total = 10_000;
    const window = 64;
    let next = 0;
    let ok = 0;
    async function worker() {
      while (next < total) {
        const i = next++;
        const text = await callTool(bridge, 'lab', 'echo', { text: `m${i}` });
        if (text === `m${i}`) ok += 1;
      }
    }
    await Promise.all(Array.from({ length: window }, worker));
    assert.equal(ok, total);
    const metrics = bridge.metrics('lab');
    assert.equal(metrics.inFlight, 0);
    assert.equal(metrics.queued, 0);
    assert.ok(metrics.p50 > 0 && metrics.p99 >= metrics.p50 && metrics.max >= metrics.p99);
  });

  it('rejects calls queued and in flight at close() with CLOSED', async () => {
    const own = new Bridge({ workspaces: { lab: labWorkspace(transport, { maxConcurrent: 1 }) } });
    await own.serverInfo('lab');
    const inFlight = callTool(own, 'lab', 'sleep', { seconds: 10 });
    const queued = callTool(own, 'lab', 'sleep', { seconds: 10 });
    await eventually(() => own.metrics('lab').queued === 1);
    const settled = Promise.allSettled([inFlight, queued]);
    await own.close();
    for (const outcome of await settled) {
      assert.equal(outcome.status, 'rejected');
      assert.equal(outcome.reason.code, 'CLOSED');
    }
    await assert.rejects(own.call('lab', 'tools/list'), { code: 'CLOSED' });
  });
});
