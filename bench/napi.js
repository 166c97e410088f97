// The cost of crossing the N-API boundary, in µs per call, measured from JS
// in tight loops (node bench/napi.js '<json spec>' prints one JSON line).
//
// The binding has no no-op method, so this times the cheapest existing ones:
// - `cancel(id)`: a number in, nothing out; a mutex and a hash lookup in
//   Rust. Always the same id, so the cancel map holds one entry.
// - `workspaceIds()`: one short string array out; `workspaceIds1000` the
//   same on a bridge with 1,000 workspaces, against `hasWorkspace1000`,
//   one lookup there.
// - `call()` to an unknown workspace: the full async round trip (argument
//   conversion, the call handed to the tokio runtime by the next flush, the
//   core's lookup failing there, the outcome taken back after the bridge's
//   settle doorbell rings), without I/O; raw (a promise resolved with the
//   outcome, as the wrapper does) and through the `Bridge` wrapper (rejects
//   with a BridgeError). Awaited one at a time this is a latency (a thread
//   hop each way); 1,000 in flight at once it is the amortized cost per call.
// A loop over an empty JS function is the baseline subtracted from each.
import { createRequire } from 'node:module';
import path from 'node:path';

import { Bridge } from '../index.js';

const require = createRequire(import.meta.url);
const { NativeBridge } = require('../native.cjs');
const spec = JSON.parse(process.argv[2] ?? '{}');
const syncCalls = spec.syncCalls ?? 300_000;
const asyncCalls = spec.asyncCalls ?? 30_000;
const repeats = spec.repeats ?? 5;

const dir = path.resolve(spec.dir ?? 'examples/workspaces/alpha');
const settling = new Map();
// The wrapper's protocol without the wrapper: a flush with setImmediate
// after the first call since the last one, every settled call taken on a
// ring.
const native = new NativeBridge({ python: 'python3', workspaces: { ws: { dir } } }, () => {
  const { ids, outcomes } = native.takeSettled();
  for (let i = 0; i < ids.length; i++) {
    const resolve = settling.get(ids[i]);
    settling.delete(ids[i]);
    resolve(outcomes[i]);
  }
});
const flush = () => native.flush();
let nextId = 1;
function rawCall(workspaceId) {
  return new Promise((resolve) => {
    const id = nextId++;
    settling.set(id, resolve);
    if (native.call(id, workspaceId, 'tools/call', params, undefined, false, false, false)) setImmediate(flush);
  });
}
// The settle callback does not keep the event loop alive (the wrapper refs
// a timer while calls are pending); this does for the raw loops.
const keepAlive = setInterval(() => {}, 1000);
const bridge = new Bridge({ python: 'python3', workspaces: { ws: { dir } } });
// Never started: only the workspace table is used.
const many = new NativeBridge(
  { python: 'python3', workspaces: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`ws-${i}`, { dir }])) },
  () => {},
);
const params = JSON.stringify({ name: 'echo', arguments: { text: 'x' } });
let sink = 0;
function noop(x) {
  return x;
}

const loops = {
  baseline: (n) => {
    for (let i = 0; i < n; i++) sink += noop(i) === -1 ? 1 : 0;
  },
  cancel: (n) => {
    for (let i = 0; i < n; i++) native.cancel(0xffffffff);
  },
  workspaceIds: (n) => {
    for (let i = 0; i < n; i++) sink += native.workspaceIds().length;
  },
  workspaceIds1000: (n) => {
    for (let i = 0; i < n; i++) sink += many.workspaceIds().includes('ws-500') ? 1 : 0;
  },
  hasWorkspace1000: (n) => {
    for (let i = 0; i < n; i++) sink += many.hasWorkspace('ws-500') ? 1 : 0;
  },
  callUnknownRaw: async (n) => {
    for (let i = 0; i < n; i++) {
      const outcome = await rawCall('nope');
      if (typeof outcome === 'string') throw new Error('expected an error outcome');
    }
  },
  // 1,000 calls in flight at once: the amortized cost per call when the
  // runtime and the event loop do not sleep between calls.
  callUnknownRawBatch: async (n) => {
    for (let done = 0; done < n; done += 1000) {
      const batch = [];
      for (let i = 0; i < 1000; i++) batch.push(rawCall('nope'));
      for (const outcome of await Promise.all(batch)) if (typeof outcome === 'string') throw new Error('expected an error outcome');
    }
  },
  // The same through the wrapper, 1,000 in flight at once.
  callUnknownBridgeBatch: async (n) => {
    const expectUnknown = (err) => {
      if (err.code !== 'UNKNOWN_WORKSPACE') throw err;
    };
    for (let done = 0; done < n; done += 1000) {
      const batch = [];
      for (let i = 0; i < 1000; i++) batch.push(bridge.call('nope', 'tools/call', { name: 'echo', arguments: { text: 'x' } }).then(() => {
        throw new Error('expected a rejection');
      }, expectUnknown));
      await Promise.all(batch);
    }
  },
  callUnknownBridge: async (n) => {
    for (let i = 0; i < n; i++) {
      try {
        await bridge.call('nope', 'tools/call', { name: 'echo', arguments: { text: 'x' } });
        throw new Error('expected a rejection');
      } catch (err) {
        if (err.code !== 'UNKNOWN_WORKSPACE') throw err;
      }
    }
  },
};

async function time(loop, n) {
  await loop(Math.ceil(n / 10)); // warm-up
  const t0 = performance.now();
  await loop(n);
  return ((performance.now() - t0) * 1000) / n; // µs per call
}

const medians = {};
for (const [name, loop] of Object.entries(loops)) {
  // workspaceIds1000 copies 1,000 ids a call: a hundredth of the calls.
  const n = name.startsWith('call') ? asyncCalls : name === 'workspaceIds1000' ? Math.ceil(syncCalls / 100) : syncCalls;
  const runs = [];
  for (let r = 0; r < repeats; r++) runs.push(await time(loop, n));
  runs.sort((a, b) => a - b);
  medians[name] = runs[Math.floor(runs.length / 2)];
}
const usPerCall = {};
for (const [name, us] of Object.entries(medians)) {
  if (name !== 'baseline') usPerCall[name] = us - medians.baseline;
}
await native.close();
await many.close();
await bridge.close();
clearInterval(keepAlive);
process.stdout.write(`${JSON.stringify({ baselineUs: medians.baseline, usPerCall, sink: sink > 0 })}\n`);
