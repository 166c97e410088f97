// The cost of isolation (BENCHMARKS.md, "Isolation"): the first call on a
// cold workspace and the throughput of one workspace, without isolation
// and with each layer (a user of its own plus resource limits; a control
// group; a network namespace; a bubblewrap sandbox; all of them), with each
// launcher, side by side in one run, rounds interleaved. Every
// configuration serves over a Unix socket (a private network needs it).
//
//   node bench/isolation.js [--cold 10] [--rounds 3]
//
// Linux, as root, after `npm test`'s setup has made the isolation venv
// (every configuration runs on that interpreter, so that only the layer
// differs). Every phase is bounded and every process is stopped.
import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { Bridge } from '../index.js';
import { isolationVenvDir } from '../scripts/lib/python.js';
import { echoed } from './lib/clients.js';
import { loadFor } from './lib/measure.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { cold: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' } } });
const COLD = Number(values.cold);
const ROUNDS = Number(values.rounds);
const python = path.join(isolationVenvDir(), 'bin', 'python');
const USER = { user: 'auto', addressSpaceMb: 4096, openFiles: 4096, processes: 512, cpuSeconds: 3600 };
const CGROUP = { memoryMb: 1024, pids: 512, cpuPercent: 200 };
const LAYERS = {
  none: undefined,
  'user + rlimits': USER,
  'control group': CGROUP,
  "network 'none'": { network: 'none' },
  'bubblewrap sandbox (always spawned) + user': { sandbox: 'bubblewrap', user: 'auto' },
  'all of them': { ...USER, ...CGROUP, network: 'none', sandbox: 'bubblewrap' },
};
const LAUNCHERS = ['spawn', 'fork'];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** One echo call; a result other than the echoed text (a tool error) throws. */
const echo = async (bridge, id) => {
  const text = echoed(await bridge.call(id, 'tools/call', { name: 'echo', arguments: { text: 'x' } }));
  if (text !== 'x') throw new Error(`echo returned ${text}`);
};

/** A copy of the echo workspace (a confined one is handed to its user). */
function echoDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-bench-iso-'));
  cpSync(path.join(root, 'bench', 'echo-workspace'), dir, { recursive: true, filter: (src) => !src.includes('__pycache__') });
  return dir;
}

async function withBridge(launcher, isolation, n, fn) {
  const workspaces = Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${i}`, { dir: echoDir(), startTimeoutMs: 120_000 }]));
  const bridge = new Bridge({ python, launcher, transport: 'unix', isolation, workspaces });
  try {
    return await fn(bridge);
  } finally {
    await bridge.close();
  }
}

/** First call on each of COLD workspaces started one after another (the first, which may start the fork server, left out). */
function coldStarts(launcher, isolation) {
  return withBridge(launcher, isolation, COLD + 1, async (bridge) => {
    await echo(bridge, 'w0');
    const times = [];
    for (let i = 1; i <= COLD; i += 1) {
      const t0 = performance.now();
      await echo(bridge, `w${i}`);
      times.push(performance.now() - t0);
    }
    return times;
  });
}

/** Calls/s of one workspace at concurrency 8 over 3 s. */
function throughput(launcher, isolation) {
  return withBridge(launcher, isolation, 1, async (bridge) => {
    const client = { call: async (text) => echoed(await bridge.call('w0', 'tools/call', { name: 'echo', arguments: { text } })) };
    await loadFor(client, 8, 500);
    const { calls, errors, firstError } = await loadFor(client, 8, 3000);
    if (errors) throw firstError;
    return calls / 3;
  });
}

const results = {};
for (let round = 0; round < ROUNDS; round += 1) {
  for (const launcher of LAUNCHERS) {
    for (const [layer, isolation] of Object.entries(LAYERS)) {
      const entry = (results[`${launcher}|${layer}`] ??= { cold: [], throughput: [] });
      entry.cold.push(...(await coldStarts(launcher, isolation)));
      entry.throughput.push(await throughput(launcher, isolation));
    }
  }
}

console.log(`\n### Isolation (${os.cpus().length} cores; ${COLD} cold workspaces x ${ROUNDS} rounds per configuration)\n`);
console.log('| launcher | isolation | first call on a cold workspace, median (ms) | vs none | calls/s at concurrency 8, median of rounds | vs none |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const launcher of LAUNCHERS) {
  const base = results[`${launcher}|none`];
  for (const layer of Object.keys(LAYERS)) {
    const r = results[`${launcher}|${layer}`];
    const cold = median(r.cold);
    const tput = median(r.throughput);
    console.log(`| ${launcher} | ${layer} | ${cold.toFixed(0)} | ${(cold / median(base.cold)).toFixed(2)}x | ${tput.toFixed(0)} | ${(tput / median(base.throughput)).toFixed(2)}x |`);
  }
}
