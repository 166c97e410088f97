// The fork launcher against the spawn launcher, side by side in one run
// (BENCHMARKS.md, "Fork server"): first call on a cold workspace, memory
// per idle running workspace (PSS and USS from /proc/<pid>/smaps_rollup,
// the fork server's PSS shared out among its children), 100 workspaces
// started at once, the idle CPU of running workspaces, the throughput of
// one workspace, and kill -9 to the in-flight rejection and the next
// success.
//
//   node bench/fork.js [--cold 20] [--sizes 1,10,100] [--rounds 3] [--prewarm 2] [--gap 0] [--only-cold]
//
// The cold starts are also measured with a warm pool of `--prewarm`
// children (fork only), `--gap` ms apart (time for the pool to fill
// again); `--only-cold` measures nothing else.
//
// Linux only. Every phase is bounded and every process is stopped.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { Bridge } from '../index.js';
import { echoed } from './lib/clients.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const echoDir = path.join(root, 'bench', 'echo-workspace');
const lab = path.join(root, 'tests', 'workspaces', 'lab');
const { values } = parseArgs({
  options: {
    cold: { type: 'string', default: '20' },
    sizes: { type: 'string', default: '1,10,100' },
    rounds: { type: 'string', default: '3' },
    prewarm: { type: 'string', default: '2' },
    gap: { type: 'string', default: '0' },
    'only-cold': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const COLD = Number(values.cold);
const SIZES = values.sizes.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const PREWARM = Number(values.prewarm);
/** Pause between two cold starts (ms): time for a warm pool to fill again. */
const GAP = Number(values.gap);
const ONLY_COLD = values['only-cold'];
const LAUNCHERS = ['spawn', 'fork'];
const MiB = 1024 * 1024;
/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const p90 = (xs) => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** One echo call; a result other than the echoed text (a tool error) throws. */
const echo = async (bridge, id) => {
  const text = echoed(await bridge.call(id, 'tools/call', { name: 'echo', arguments: { text: 'x' } }));
  if (text !== 'x') throw new Error(`echo returned ${text}`);
};
const fmt = (x, digits = 0) => (x === undefined ? 'n/a' : x.toFixed(digits));

function workspaces(n, dir = echoDir, extra = {}) {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${i}`, { dir, startTimeoutMs: 600_000, timeoutMs: 600_000, ...extra }]));
}

/** `{ pss, uss }` of `pid`, in bytes. */
function memory(pid) {
  const fields = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match) fields[match[1]] = Number(match[2]) * 1024;
  }
  return { pss: fields.Pss, uss: fields.Private_Clean + fields.Private_Dirty };
}

/** CPU time of `pid` so far (utime + stime), in clock ticks. */
function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function forkServers() {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'fastmcp_workspace[.]zygote'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function memAvailable() {
  const match = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Number(match[1]) * 1024;
}

async function withBridge(options, fn) {
  const bridge = new Bridge(options);
  try {
    return await fn(bridge);
  } finally {
    await bridge.close();
  }
}

/** First call on each of COLD workspaces started one after another. */
async function coldStarts(launcher, prewarm = 0) {
  return withBridge({ launcher, prewarm, workspaces: workspaces(COLD) }, async (bridge) => {
    const times = [];
    for (let i = 0; i < COLD; i += 1) {
      if (GAP > 0) await sleep(GAP);
      const t0 = performance.now();
      await echo(bridge, `w${i}`);
      times.push(performance.now() - t0);
    }
    return times;
  });
}

/** Memory per idle running workspace, with n running. */
async function idleMemory(launcher, n) {
  return withBridge({ launcher, workspaces: workspaces(n) }, async (bridge) => {
    const before = memAvailable();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: n }, (_, i) => echo(bridge, `w${i}`)));
    const allAnswered = performance.now() - t0;
    await sleep(2000);
    const pids = bridge.workspaces().map((w) => w.pid);
    const children = pids.map(memory);
    const servers = forkServers().map(memory);
    const pss = (children.reduce((s, m) => s + m.pss, 0) + servers.reduce((s, m) => s + m.pss, 0)) / n;
    const uss = children.reduce((s, m) => s + m.uss, 0) / n;
    const machine = before - memAvailable();
    // Idle CPU: ticks over 5 s of every workspace process (and fork server).
    const all = [...pids, ...forkServers()];
    const ticks0 = all.map(cpuTicks);
    await sleep(5000);
    const ticks = all.map(cpuTicks).reduce((s, t, i) => s + t - ticks0[i], 0);
    const idleCpuPercent = (ticks / CLOCK_TICKS / 5) * 100;
    return { n, pss, uss, allAnswered, machine, idleCpuPercent };
  });
}

/** Calls/s of one workspace at concurrency 8 over 3 s. */
async function throughput(launcher) {
  return withBridge({ launcher, workspaces: workspaces(1) }, async (bridge) => {
    await echo(bridge, 'w0');
    for (let i = 0; i < 200; i += 1) await echo(bridge, 'w0'); // warm
    let done = 0;
    const until = performance.now() + 3000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          await echo(bridge, 'w0');
          done += 1;
        }
      }),
    );
    return done / 3;
  });
}

/** kill -9 during a call: to its rejection, and to the next success. */
async function killToRecovery(launcher) {
  return withBridge({ launcher, workspaces: { lab: { dir: lab, maxRestarts: 100 } } }, async (bridge) => {
    await bridge.start('lab');
    const toReject = [];
    const toNext = [];
    for (let i = 0; i < 5; i += 1) {
      await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: 'x' } });
      const call = bridge.call('lab', 'tools/call', { name: 'sleep', arguments: { seconds: 30 } }).catch((e) => e);
      while (bridge.metrics('lab').inFlight === 0) await sleep(5);
      await sleep(100);
      const t0 = performance.now();
      process.kill(bridge.status('lab').pid, 'SIGKILL');
      await call;
      toReject.push(performance.now() - t0);
      await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: 'x' } });
      toNext.push(performance.now() - t0);
    }
    return { reject: median(toReject), next: median(toNext) };
  });
}

const results = { cold: {}, memory: {}, throughput: {}, kill: {}, pooled: [] };
for (const launcher of LAUNCHERS) results.cold[launcher] = [];
for (let round = 0; round < ROUNDS; round += 1) {
  for (const launcher of LAUNCHERS) {
    results.cold[launcher].push(...(await coldStarts(launcher)));
    if (!ONLY_COLD) (results.throughput[launcher] ??= []).push(await throughput(launcher));
  }
  if (PREWARM > 0) results.pooled.push(...(await coldStarts('fork', PREWARM)));
}
if (ONLY_COLD) {
  const firstsLeftOut = (xs) => xs.filter((_, i) => i % COLD !== 0);
  console.log(`\n### Cold starts (${COLD} workspaces x ${ROUNDS} rounds, the bridge's first left out)\n`);
  console.log('| | spawn | fork | fork, warm pool of ' + PREWARM + ' |');
  console.log('| --- | --- | --- | --- |');
  const cells = [results.cold.spawn, results.cold.fork, results.pooled].map(firstsLeftOut);
  console.log(`| first call on a cold workspace, median (ms) | ${cells.map((xs) => fmt(median(xs))).join(' | ')} |`);
  console.log(`| the same, p90 (ms) | ${cells.map((xs) => fmt(p90(xs))).join(' | ')} |`);
  process.exit(0);
}
for (const launcher of LAUNCHERS) results.kill[launcher] = await killToRecovery(launcher);
for (const n of SIZES) {
  for (const launcher of LAUNCHERS) (results.memory[launcher] ??= []).push(await idleMemory(launcher, n));
}

console.log(`\n### Fork server (${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ${COLD} workspaces x ${ROUNDS} rounds)\n`);
console.log('| | spawn | fork | spawn / fork |');
console.log('| --- | --- | --- | --- |');
const row = (name, s, f, digits = 0) => console.log(`| ${name} | ${fmt(s, digits)} | ${fmt(f, digits)} | ${fmt(s / f, 1)}x |`);
const firstOfBridge = (xs) => xs.filter((_, i) => i % COLD === 0);
const rest = (xs) => xs.filter((_, i) => i % COLD !== 0);
row('first call on a cold workspace, median (ms)', median(rest(results.cold.spawn)), median(rest(results.cold.fork)));
row('the same, p90 (ms)', p90(rest(results.cold.spawn)), p90(rest(results.cold.fork)));
if (PREWARM > 0) row(`the same with a warm pool of ${PREWARM} (fork column), median (ms)`, median(rest(results.cold.spawn)), median(rest(results.pooled)));
row("the bridge's first workspace, median (ms; fork: with the fork server's start)", median(firstOfBridge(results.cold.spawn)), median(firstOfBridge(results.cold.fork)));
row('one workspace, calls/s at concurrency 8 (median of rounds)', median(results.throughput.spawn), median(results.throughput.fork));
row('kill -9 to the in-flight rejection (ms)', results.kill.spawn.reject, results.kill.fork.reject);
row('kill -9 to the next success (ms)', results.kill.spawn.next, results.kill.fork.next);
for (let i = 0; i < SIZES.length; i += 1) {
  const s = results.memory.spawn[i];
  const f = results.memory.fork[i];
  row(`${s.n} idle workspaces: PSS per workspace (MiB)`, s.pss / MiB, f.pss / MiB, 1);
  row(`${s.n} idle workspaces: USS per workspace (MiB)`, s.uss / MiB, f.uss / MiB, 1);
  row(`${s.n} started at once: time until all answered (ms)`, s.allAnswered, f.allAnswered);
  row(`${s.n} started at once: machine memory in use (MiB)`, s.machine / MiB, f.machine / MiB);
  row(`${s.n} idle workspaces: CPU of all of them (% of a core)`, s.idleCpuPercent, f.idleCpuPercent, 1);
}
const last = SIZES.length - 1;
const fit = (m) => Math.floor((24 * 2 ** 30) / m.pss);
console.log(`\nIdle workspaces in 24 GiB at the PSS measured with ${SIZES[last]}: spawn ${fit(results.memory.spawn[last])}, fork ${fit(results.memory.fork[last])}.`);
if (values.json) {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(values.json, JSON.stringify(results, null, 2));
}
