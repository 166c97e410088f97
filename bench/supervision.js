// Supervision figures for BENCHMARKS.md: cold start to first result, kill -9
// to the in-flight rejection and to the next successful call, and the
// bridge's own memory per configured / running workspace (Python excluded).
//
//   node bench/supervision.js [--rounds 5]
//
// Loopback only; every phase is bounded and every process is stopped.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { Bridge } from '../index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lab = path.join(root, 'tests', 'workspaces', 'lab');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const echo = (bridge, id) => bridge.call(id, 'tools/call', { name: 'echo', arguments: { text: 'x' } });

async function coldStart() {
  const times = [];
  for (let i = 0; i < rounds; i += 1) {
    const bridge = new Bridge({ workspaces: { lab: { dir: lab } } });
    const t0 = performance.now();
    await echo(bridge, 'lab');
    times.push(performance.now() - t0);
    await bridge.close();
  }
  return median(times);
}

async function killToRecovery() {
  const toReject = [];
  const toNext = [];
  const bridge = new Bridge({ workspaces: { lab: { dir: lab, maxRestarts: 100 } } });
  try {
    await bridge.start('lab');
    for (let i = 0; i < rounds; i += 1) {
      await echo(bridge, 'lab');
      const call = bridge.call('lab', 'tools/call', { name: 'sleep', arguments: { seconds: 30 } }).catch((e) => e);
      while (bridge.metrics('lab').inFlight === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      process.kill(bridge.status('lab').pid, 'SIGKILL');
      await call;
      toReject.push(performance.now() - t0);
      await echo(bridge, 'lab');
      toNext.push(performance.now() - t0);
      // Let the backoff reset between rounds is not needed: delays are part of the figure.
    }
  } finally {
    await bridge.close();
  }
  return { reject: median(toReject), next: median(toNext) };
}

function rssMiB() {
  globalThis.gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

async function memory() {
  const rows = [];
  for (const configured of [1, 100, 1000]) {
    const before = rssMiB();
    const workspaces = Object.fromEntries(Array.from({ length: configured }, (_, i) => [`w${i}`, { dir: lab }]));
    const bridge = new Bridge({ workspaces });
    const idle = rssMiB() - before;
    rows.push({ configured, idleKiB: (idle * 1024) / configured });
    await bridge.close();
  }
  const before = rssMiB();
  const bridge = new Bridge({ workspaces: { a: { dir: lab }, b: { dir: lab }, c: { dir: lab }, d: { dir: lab } } });
  await Promise.all(['a', 'b', 'c', 'd'].map((id) => echo(bridge, id)));
  for (let i = 0; i < 200; i += 1) await Promise.all(['a', 'b', 'c', 'd'].map((id) => echo(bridge, id)));
  const running = (rssMiB() - before) / 4;
  await bridge.close();
  return { rows, runningMiB: running };
}

const cold = await coldStart();
const kill = await killToRecovery();
const mem = await memory();
console.log(`cold start to first result (median of ${rounds}): ${cold.toFixed(0)} ms`);
console.log(`kill -9 to in-flight rejection (median of ${rounds}): ${kill.reject.toFixed(1)} ms`);
console.log(`kill -9 to next successful call (median of ${rounds}): ${kill.next.toFixed(0)} ms`);
for (const row of mem.rows) console.log(`bridge RSS per configured idle workspace at ${row.configured}: ${row.idleKiB.toFixed(1)} KiB`);
console.log(`bridge RSS per running workspace (4 running, after 800 calls): ${mem.runningMiB.toFixed(2)} MiB`);
