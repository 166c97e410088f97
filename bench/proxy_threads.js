// Where the CPU of a call through the Express endpoint goes, thread by
// thread: node bench/proxy_threads.js [--rounds N] [--ms MS]
// [--max-concurrent 2,4,64] [--backend fastmcp|stdio-echo]
// [--proxy express,express-fast,express-auth,express-fast-auth,node-http,express-bare].
//
// Starts bench/express_app.js (the Express endpoint, one stdio workspace
// running bench/echo_server.py, or with `--backend stdio-echo` the minimal
// bench/stdio_echo.py, as the `peers` phase does; with `--proxy node-http`
// also the bare node:http front door bench/http_app.js) once per round,
// proxy and maxConcurrent value, loads it at concurrency 32 with the raw undici MCP
// client of lib/clients.js for MS ms (after a 1 s warm-up), and reads every
// thread's CPU time from /proc/<pid>/task/<tid>/stat before and after:
// the proxy's threads (Node's main thread, V8's platform workers, the tokio
// worker), the backend's (Python's main thread and its worker threads) and
// the load generator's own process CPU. Prints a Markdown table of medians
// over rounds, in ms of CPU per call, and calls/s.
import path from 'node:path';
import { parseArgs } from 'node:util';

import { defaultPython } from '../index.js';
import { undiciClient } from './lib/clients.js';
import { loadFor } from './lib/measure.js';
import { threadCpu } from './lib/threads.js';
import { children, freePort, openWhenReady, spawnProxy } from './lib/peers.js';
import { benchDir } from './setup.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    ms: { type: 'string', default: '5000' },
    'max-concurrent': { type: 'string', default: '2,4,64' },
    backend: { type: 'string', default: 'fastmcp' },
    proxy: { type: 'string', default: 'express' },
  },
});
const rounds = Number(args.rounds);
const loadMs = Number(args.ms);
const APPS = { express: 'express_app.js', 'express-fast': 'express_app.js', 'express-auth': 'express_app.js', 'express-fast-auth': 'express_app.js', 'node-http': 'http_app.js', 'express-bare': 'http_app.js' };
const proxies = args.proxy.split(',');
for (const p of proxies) if (!APPS[p]) throw new Error(`--proxy: one of ${Object.keys(APPS).join(', ')}`);
// One column per proxy and maxConcurrent value.
const limits = proxies.flatMap((p) => args['max-concurrent'].split(',').map((n) => `${p}:${n}`));
const CONCURRENCY = 32;
const proxyGroup = (pid, tid, name) => {
  if (tid === pid) return 'proxy: main thread (JS)';
  if (name.startsWith('tokio')) return 'proxy: tokio worker';
  return 'proxy: other threads (V8 workers, libuv)';
};
const backendGroup = (pid, tid) => (tid === pid ? 'backend: main thread' : 'backend: other threads');

async function measure(column) {
  const [app, n] = column.split(':');
  const maxConcurrent = Number(n);
  const port = await freePort();
  const python = defaultPython();
  const dir = path.join(benchDir, 'echo-workspace');
  const backendArgs = args.backend === 'stdio-echo' ? [path.join(benchDir, 'stdio_echo.py')] : [path.join(benchDir, 'echo_server.py'), '--dir', dir];
  const spec = { port, dir, command: python, args: backendArgs, maxConcurrent, express: app === 'express-bare', fastPath: app.startsWith('express-fast'), authenticate: app.endsWith('-auth') };
  const proxy = spawnProxy(process.execPath, [path.join(benchDir, APPS[app]), JSON.stringify(spec)]);
  const url = `http://127.0.0.1:${port}/workspaces/echo/mcp`;
  const client = await openWhenReady(() => undiciClient({ url, concurrency: CONCURRENCY }), proxy);
  try {
    await loadFor(client, CONCURRENCY, 1000);
    const [backend] = children(proxy.pid);
    const read = () => ({ ...threadCpu(proxy.pid, proxyGroup), ...threadCpu(backend, backendGroup) });
    const before = read();
    const self = process.cpuUsage();
    const started = performance.now();
    const { calls, errors } = await loadFor(client, CONCURRENCY, loadMs);
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(self);
    const after = read();
    if (errors) throw new Error(`${errors} calls failed`);
    const row = { 'calls/s': (calls * 1000) / elapsed, 'load generator': (used.user + used.system) / 1000 / calls };
    for (const [key, ms] of Object.entries(after)) row[key] = (ms - (before[key] ?? 0)) / calls;
    return row;
  } finally {
    await client.close().catch(() => {});
    await proxy.stop();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs = Object.fromEntries(limits.map((n) => [n, []]));
for (let round = 0; round < rounds; round++) {
  for (const n of round % 2 ? [...limits].reverse() : limits) {
    console.error(`proxy_threads: round ${round + 1}/${rounds}: ${n}`);
    runs[n].push(await measure(n));
  }
}
const keys = [
  'calls/s',
  'load generator',
  'proxy: main thread (JS)',
  'proxy: other threads (V8 workers, libuv)',
  'proxy: tokio worker',
  'backend: main thread',
  'backend: other threads',
];
const fmt = (key, v) => (key === 'calls/s' ? Math.round(v).toLocaleString('en-US') : v.toFixed(3));
const lines = [
  `Backend ${args.backend}, concurrency ${CONCURRENCY}, ${rounds} rounds of ${loadMs} ms, medians; CPU in ms per call (/proc, 10 ms ticks).\n`,
  `| proxy:maxConcurrent | ${limits.join(' | ')} |`,
  `| --- |${limits.map(() => ' --- |').join('')}`,
];
for (const key of keys) lines.push(`| ${key} | ${limits.map((n) => fmt(key, median(runs[n].map((r) => r[key] ?? 0)))).join(' | ')} |`);
const total = (r) => keys.slice(1).reduce((sum, key) => sum + (r[key] ?? 0), 0);
lines.push(`| all of it | ${limits.map((n) => median(runs[n].map(total)).toFixed(3)).join(' | ')} |`);
lines.push(`| cores busy | ${limits.map((n) => median(runs[n].map((r) => (total(r) * r['calls/s']) / 1000)).toFixed(2)).join(' | ')} |`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(0);
