// The benchmark suite: `npm run bench` (or `node bench/run.js [--quick]
// [--rounds N] [--only fastmcp,ceiling,transports,variants,peers,napi,criterion]
// [--json FILE]`).
//
// Phases, each bounded by a fixed number of calls or seconds:
// - fastmcp: bridge.call() vs the official SDK client vs raw undici against
//   the FastMCP echo workspace (examples/workspaces/alpha): p50/p99 at
//   concurrency 1, throughput at concurrency 32, client CPU per call.
// - ceiling: bridge.call() vs raw undici and the official SDK client against
//   the bare uvicorn+httptools echo server (bench/bare_server.py via
//   bench/bare-hub), concurrency 64.
// - transports: bridge.call() with the workspace reached over 'http',
//   'unix' and 'stdio' (the same FastMCP server, bench/echo-workspace; over
//   stdio through bench/echo_server.py): p50/p99 at concurrency 1,
//   throughput at concurrency 32, echo payload sweep 1 KiB .. 16 MiB.
// - peers: the Express endpoint (bridgeRouter, stdio workspace) vs
//   supergateway, mcp-proxy and mcp-hub, and two lower bounds (bridge.call()
//   behind a bare node:http server, and behind a bare Express app), all
//   fronting one stdio backend: first the minimal bench/stdio_echo.py, then
//   the FastMCP bench/echo_server.py; and that server's own stdio (the
//   floor): p50/p99 at concurrency 1, throughput at 32, proxy CPU per call
//   and RSS (bench/peer_client.js).
// - variants: bridge.call() over http against bench/echo-workspace as
//   configured by default (one tokio worker thread), with protocol
//   'sessionless' (MCP 2026-07-28), and with two tokio worker threads
//   (TOKIO_WORKER_THREADS=2), and with the request log on (a SQLite file);
//   default, two workers and the request log also against the bare server
//   of the ceiling phase, concurrency 64.
// - napi: the N-API crossing cost (bench/napi.js).
// - criterion: the core path without I/O (cargo bench, core_path).
// Every measurement runs in a fresh child process with a fresh server
// process; clients are interleaved within a round (the order rotates each
// round) and the report gives medians over rounds.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { defaultPython } from '../index.js';
import { benchDir, setupPeers } from './setup.js';

const root = path.resolve(benchDir, '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
const quick = args.quick;
const rounds = Number(args.rounds ?? (quick ? 3 : 5));
const phases = new Set((args.only ?? 'fastmcp,ceiling,transports,variants,peers,napi,criterion').split(','));
const workspaceDir = path.join(root, 'examples', 'workspaces', 'alpha');
const hubPython = defaultPython();
const bareHub = path.join(benchDir, 'bare-hub');
const echoWorkspace = path.join(benchDir, 'echo-workspace');
const echoServer = path.join(benchDir, 'echo_server.py');
const stdioEcho = path.join(benchDir, 'stdio_echo.py');

const FASTMCP = {
  latency: quick ? { warmup: 30, calls: 200 } : { warmup: 50, calls: 400 },
  throughput: { concurrency: 32, warmupMs: quick ? 500 : 1000, ms: quick ? 2000 : 4000 },
};
const CEILING = {
  latency: quick ? { warmup: 200, calls: 1000 } : { warmup: 500, calls: 5000 },
  throughput: { concurrency: 64, warmupMs: quick ? 500 : 1000, ms: quick ? 2000 : 5000 },
};

const KiB = 1024;
const MiB = 1024 * KiB;
const TRANSPORTS = {
  latency: quick ? { warmup: 30, calls: 200 } : { warmup: 50, calls: 400 },
  throughput: { concurrency: 32, warmupMs: quick ? 500 : 1000, ms: quick ? 2000 : 4000 },
  payload: {
    warmup: 1,
    sizes: [
      { size: KiB, calls: quick ? 20 : 50 },
      { size: 64 * KiB, calls: quick ? 20 : 50 },
      { size: MiB, calls: quick ? 5 : 10 },
      { size: 16 * MiB, calls: quick ? 2 : 5 },
    ],
  },
  // A 16 MiB echo is a 16 MiB request and an answer of about 32 MiB (FastMCP
  // returns the text twice: as content and as structuredContent), over the
  // default maxMessageBytes (16 MiB); and a 16 MiB call takes seconds.
  bridgeOptions: { maxMessageBytes: 64 * MiB, timeoutMs: 120_000 },
};

const PEERS = {
  latency: quick ? { warmup: 30, calls: 200 } : { warmup: 50, calls: 400 },
  throughput: { concurrency: 32, warmupMs: quick ? 500 : 1000, ms: quick ? 2000 : 4000 },
};

function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

/** Runs a node script in a child process; resolves with its JSON line. */
function runChild(script, spec, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(benchDir, script), JSON.stringify(spec)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The SDK client warns MaxListenersExceededWarning at concurrency >= 32.
      env: { ...process.env, NODE_NO_WARNINGS: '1', ...spec.env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} ${spec.client ?? ''} failed (${signal ?? code}): ${err.slice(-2000)}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${fmt(s[0])}-${fmt(s[s.length - 1])}`;
};
function fmt(x, digits = 3) {
  if (!Number.isFinite(x)) return 'n/a';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

/** Rounds of interleaved runs, the order rotating each round. */
async function interleaved(name, clients, spec, script = 'client.js') {
  const runs = Object.fromEntries(clients.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    const order = clients.map((_, i) => clients[(i + r) % clients.length]);
    for (const client of order) {
      log(`${name} round ${r + 1}/${rounds}: ${client}`);
      runs[client].push(await runChild(script, { client, dir: workspaceDir, ...spec(client) }, 180_000));
    }
  }
  return runs;
}

function summarize(runs, key, field) {
  return median(runs.map((run) => run[key]?.[field]));
}

function clientTable(runs, clients) {
  const rows = [
    ['p50 at c=1 (ms)', 'latency', 'p50Ms'],
    ['p99 at c=1 (ms)', 'latency', 'p99Ms'],
    ['client CPU per call at c=1 (ms)', 'latency', 'clientCpuPerCallMs'],
    ['server CPU per call at c=1 (ms)', 'latency', 'serverCpuPerCallMs'],
    [`throughput at c=${runs[clients[0]][0].throughput.concurrency} (calls/s)`, 'throughput', 'callsPerSec'],
    ['client CPU per call under load (ms)', 'throughput', 'clientCpuPerCallMs'],
    ['server CPU per call under load (ms)', 'throughput', 'serverCpuPerCallMs'],
  ];
  const lines = [`| | ${clients.join(' | ')} |`, `| --- |${clients.map(() => ' --- |').join('')}`];
  for (const [label, key, field] of rows) {
    const cells = clients.map((c) => {
      const values = runs[c].map((run) => run[key][field]);
      return `${fmt(median(values))} (${spread(values)})`;
    });
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  const errors = clients.map((c) => runs[c].reduce((n, run) => n + (run.throughput.errors ?? 0), 0));
  lines.push(`| failed calls (all rounds) | ${errors.join(' | ')} |`);
  return lines.join('\n');
}

function verdict(ok) {
  return ok ? 'met' : 'NOT met';
}

async function main() {
  if (!existsSync(hubPython)) throw new Error(`no hub interpreter at ${hubPython}: run \`npm run setup\` first`);
  setupPeers();
  const report = { rounds, quick, started: new Date().toISOString(), results: {} };
  const out = [];

  if (phases.has('fastmcp')) {
    const clients = ['bridge', 'sdk', 'undici'];
    const runs = await interleaved('fastmcp', clients, () => ({ python: hubPython, ...FASTMCP }));
    report.results.fastmcp = runs;
    const m = (c, k, f) => summarize(runs[c], k, f);
    const tput = (c) => m(c, 'throughput', 'callsPerSec');
    const cpu = (c) => m(c, 'throughput', 'clientCpuPerCallMs');
    const p50gap = m('bridge', 'latency', 'p50Ms') - m('undici', 'latency', 'p50Ms');
    out.push(`## FastMCP echo workspace (${rounds} rounds, medians, min-max in parentheses)\n`);
    out.push(clientTable(runs, clients));
    out.push('');
    out.push('| target | measured | verdict |\n| --- | --- | --- |');
    out.push(`| throughput >= 1.5x SDK | ${fmt(tput('bridge') / tput('sdk'))}x | ${verdict(tput('bridge') / tput('sdk') >= 1.5)} |`);
    out.push(`| throughput >= 95% of undici | ${fmt((100 * tput('bridge')) / tput('undici'))}% | ${verdict(tput('bridge') / tput('undici') >= 0.95)} |`);
    out.push(`| p50 at c=1 <= undici + 0.1 ms | ${p50gap >= 0 ? '+' : ''}${fmt(p50gap)} ms | ${verdict(p50gap <= 0.1)} |`);
    out.push(`| client CPU per call <= 1/5 of SDK | 1/${fmt(cpu('sdk') / cpu('bridge'))} | ${verdict(cpu('bridge') <= cpu('sdk') / 5)} |`);
    out.push('');
  }

  if (phases.has('ceiling')) {
    // The SDK client too: against a server that is not the limit, its own
    // cost per call shows (against FastMCP every client meets the hub's).
    const clients = ['bridge', 'sdk', 'undici'];
    const runs = await interleaved('ceiling', clients, () => ({ python: bareHub, ...CEILING }));
    report.results.ceiling = runs;
    const tput = (c) => summarize(runs[c], 'throughput', 'callsPerSec');
    out.push(`## Ceiling: bare uvicorn+httptools echo server (${rounds} rounds, medians, min-max in parentheses)\n`);
    out.push(clientTable(runs, clients));
    out.push('');
    out.push('| target | measured | verdict |\n| --- | --- | --- |');
    out.push(`| bridge throughput at c=64 >= undici | ${fmt((100 * tput('bridge')) / tput('undici'))}% | ${verdict(tput('bridge') >= tput('undici'))} |`);
    out.push(`| (no target here) bridge throughput at c=64 / SDK client's | ${fmt(tput('bridge') / tput('sdk'))}x | - |`);
    out.push('');
  }

  const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' / ');

  if (phases.has('transports')) {
    const loadBefore = load();
    const kinds = ['http', 'unix', 'stdio'];
    const workspace = (kind) =>
      kind === 'stdio'
        ? { transport: 'stdio', command: hubPython, args: [echoServer, '--dir', echoWorkspace] }
        : { transport: kind };
    const runs = await interleaved('transports', kinds, (kind) => ({
      client: 'bridge',
      dir: echoWorkspace,
      python: hubPython,
      workspace: workspace(kind),
      bridgeOptions: TRANSPORTS.bridgeOptions,
      latency: TRANSPORTS.latency,
      throughput: TRANSPORTS.throughput,
      payload: TRANSPORTS.payload,
    }));
    report.results.transports = runs;
    report.load = { ...report.load, transports: [loadBefore, load()] };
    out.push(`## Transports: bridge.call() over http, unix, stdio (${rounds} rounds, medians, min-max in parentheses)\n`);
    out.push(`Load average (1 / 5 / 15 min) at the start: ${loadBefore}; at the end: ${load()}.\n`);
    out.push(clientTable(runs, kinds));
    out.push('');
    out.push(`Echo payload sweep, concurrency 1, maxMessageBytes ${TRANSPORTS.bridgeOptions.maxMessageBytes / MiB} MiB: p50 per call (ms) and MB/s (payload bytes / p50; the answer carries them back too).\n`);
    out.push(`| payload | ${kinds.map((k) => `${k} p50 (ms) | ${k} MB/s`).join(' | ')} |`);
    out.push(`| --- |${kinds.map(() => ' --- | --- |').join('')}`);
    for (const [i, { size }] of TRANSPORTS.payload.sizes.entries()) {
      const label = size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`;
      const cells = kinds.map((k) => {
        const rows = runs[k].map((run) => run.payload[i]);
        const ok = rows.filter((row) => !row.error);
        if (ok.length === 0) {
          const [code] = rows[0].error.trim().split(' ');
          const status = /HTTP (\d{3})/.exec(rows[0].error);
          return `failed: ${code}${status ? ` (HTTP ${status[1]})` : ''} | -`;
        }
        const failed = rows.length - ok.length ? ` (${rows.length - ok.length} rounds failed)` : '';
        const p50 = ok.map((row) => row.p50Ms);
        const mbs = ok.map((row) => row.mbPerSec);
        return `${fmt(median(p50))} (${spread(p50)})${failed} | ${fmt(median(mbs))} (${spread(mbs)})`;
      });
      out.push(`| ${label} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }

  if (phases.has('variants')) {
    const loadBefore = load();
    // `request log`: every call recorded in a SQLite file of the run's own
    // (option requestLog), removed after the phase.
    const logBase = path.join(os.tmpdir(), `fastmcp-bridge-bench-requests-${process.pid}-`);
    let logFiles = 0;
    const variants = {
      default: () => ({}),
      sessionless: () => ({ workspace: { protocol: 'sessionless' } }),
      '2 workers': () => ({ env: { TOKIO_WORKER_THREADS: '2' } }),
      'request log': () => ({ bridgeOptions: { requestLog: { path: `${logBase}${++logFiles}.db` } } }),
    };
    const names = Object.keys(variants);
    const fastmcp = await interleaved('variants', names, (name) => ({
      client: 'bridge',
      dir: echoWorkspace,
      python: hubPython,
      ...TRANSPORTS,
      payload: undefined,
      ...variants[name](),
    }));
    const ceilingNames = ['default', '2 workers', 'request log'];
    const ceiling = await interleaved('variants (ceiling)', ceilingNames, (name) => ({
      client: 'bridge',
      python: bareHub,
      ...CEILING,
      ...variants[name](),
    }));
    for (const file of readdirSync(os.tmpdir())) {
      if (path.join(os.tmpdir(), file).startsWith(logBase)) rmSync(path.join(os.tmpdir(), file), { force: true });
    }
    report.results.variants = { fastmcp, ceiling };
    report.load = { ...report.load, variants: [loadBefore, load()] };
    out.push(`## Variants: bridge.call() over http, by configuration (${rounds} rounds, medians, min-max in parentheses)\n`);
    out.push(`Load average (1 / 5 / 15 min) at the start: ${loadBefore}; at the end: ${load()}.\n`);
    out.push('Against the FastMCP echo workspace (bench/echo-workspace):\n');
    out.push(clientTable(fastmcp, names));
    out.push('');
    out.push('Against the bare echo server of the ceiling phase, concurrency 64:\n');
    out.push(clientTable(ceiling, ceilingNames));
    out.push('');
  }

  if (phases.has('peers')) {
    // Two backends behind every proxy: the minimal stdio echo server, which
    // costs next to nothing per call (so a proxy's own cost shows), and the
    // FastMCP echo server, which is the limit (so the targets there guard
    // against regressions). `express` is the router mounted in an Express
    // app, `express-fast` the same behind withMcpFastPath; `node-http` and
    // `express-bare` are lower bounds, not peers (bench/http_app.js).
    const ours = ['express', 'express-fast'];
    const peers = [...ours, 'node-http', 'express-bare', 'supergateway', 'mcp-proxy', 'mcp-hub', 'floor'];
    const proxies = ['supergateway', 'mcp-proxy', 'mcp-hub'];
    const nodePeers = ['supergateway', 'mcp-hub'];
    const rows = [
      ['p50 at c=1 (ms)', (r) => r.latency.p50Ms],
      ['p99 at c=1 (ms)', (r) => r.latency.p99Ms],
      [`throughput at c=${PEERS.throughput.concurrency} (calls/s)`, (r) => r.throughput.callsPerSec],
      ['proxy CPU per call under load (ms)', (r) => r.throughput.proxyCpuPerCallMs],
      ['backend CPU per call under load (ms)', (r) => r.throughput.serverCpuPerCallMs],
      ['proxy RSS after the c=1 run (MiB)', (r) => r.rssIdleKiB / 1024],
      ['proxy RSS after the load (MiB)', (r) => r.rssKiB / 1024],
    ];
    report.results.peers = {};
    for (const backend of ['stdio-echo', 'fastmcp']) {
      const loadBefore = load();
      const runs = await interleaved(
        `peers (${backend})`,
        peers,
        (peer) => ({ peer, backend, python: hubPython, echoServer, stdioEcho, dir: echoWorkspace, ...PEERS }),
        'peer_client.js',
      );
      report.results.peers[backend] = runs;
      report.load = { ...report.load, [`peers (${backend})`]: [loadBefore, load()] };
      const m = (p, get) => median(runs[p].map(get));
      const cell = (p, get) => {
        const values = runs[p].map(get);
        return `${fmt(median(values))} (${spread(values)})`;
      };
      const title = backend === 'stdio-echo' ? 'the minimal stdio echo backend (bench/stdio_echo.py)' : 'the FastMCP stdio echo backend (bench/echo_server.py)';
      out.push(`## Express endpoint vs peers, ${title} (${rounds} rounds, medians, min-max in parentheses)\n`);
      out.push(`Load average (1 / 5 / 15 min) at the start: ${loadBefore}; at the end: ${load()}.\n`);
      out.push(`| | ${peers.join(' | ')} |`);
      out.push(`| --- |${peers.map(() => ' --- |').join('')}`);
      for (const [label, get] of rows) out.push(`| ${label} | ${peers.map((p) => (p === 'floor' && label.includes('proxy') ? '-' : cell(p, get))).join(' | ')} |`);
      out.push(`| failed calls (all rounds) | ${peers.map((p) => runs[p].reduce((n, r) => n + (r.throughput.errors ?? 0), 0)).join(' | ')} |`);
      out.push('');
      const tput = (p) => m(p, (r) => r.throughput.callsPerSec);
      const p50 = (p) => m(p, (r) => r.latency.p50Ms);
      const rss = (p) => m(p, (r) => r.rssKiB / 1024);
      const cpu = (p) => m(p, (r) => r.throughput.proxyCpuPerCallMs);
      const best = proxies.reduce((a, b) => (tput(b) > tput(a) ? b : a));
      const fastest = proxies.reduce((a, b) => (p50(b) < p50(a) ? b : a));
      const leanNode = nodePeers.reduce((a, b) => (rss(b) < rss(a) ? b : a));
      out.push('| target | measured | verdict |\n| --- | --- | --- |');
      if (backend === 'stdio-echo') {
        for (const e of ours) {
          out.push(`| ${e}: proxy CPU per call at c=32 <= 0.10 ms | ${fmt(cpu(e))} ms (express-bare alone: ${fmt(cpu('express-bare'))} ms) | ${verdict(cpu(e) <= 0.1)} |`);
          out.push(`| ${e}: throughput at c=32 >= 2.5x the best peer (${best}) | ${fmt(tput(e) / tput(best))}x (${fmt(tput(e))} / ${fmt(tput(best))} calls/s) | ${verdict(tput(e) >= 2.5 * tput(best))} |`);
          out.push(`| ${e}: p50 at c=1 at least 10% below every peer's (lowest: ${fastest}) | ${fmt(p50(e))} ms vs ${fmt(p50(fastest))} ms (${fmt((100 * (p50(fastest) - p50(e))) / p50(fastest))}% below) | ${verdict(p50(e) <= 0.9 * p50(fastest))} |`);
          out.push(`| ${e}: proxy CPU per call <= 1.3x the bare node:http front door's | ${fmt(cpu(e) / cpu('node-http'))}x (${fmt(cpu(e))} / ${fmt(cpu('node-http'))} ms; express-bare ${fmt(cpu('express-bare') / cpu('node-http'))}x) | ${verdict(cpu(e) <= 1.3 * cpu('node-http'))} |`);
        }
      } else {
        for (const e of ours) {
          out.push(`| ${e}: throughput at c=32 >= the best peer's (${best}) | ${fmt(tput(e) / tput(best))}x (${fmt(tput(e))} / ${fmt(tput(best))} calls/s) | ${verdict(tput(e) >= tput(best))} |`);
          out.push(`| ${e}: p50 at c=1 below every peer's (lowest: ${fastest}) | ${fmt(p50(e))} ms vs ${fmt(p50(fastest))} ms | ${verdict(p50(e) < p50(fastest))} |`);
          out.push(`| ${e}: proxy RSS below every Node peer's (lowest: ${leanNode}) | ${fmt(rss(e))} MiB vs ${fmt(rss(leanNode))} MiB | ${verdict(rss(e) < rss(leanNode))} |`);
        }
      }
      out.push('');
    }
  }

  if (phases.has('napi')) {
    const runs = [];
    for (let r = 0; r < rounds; r++) {
      log(`napi round ${r + 1}/${rounds}`);
      runs.push(await runChild('napi.js', { dir: workspaceDir, ...(quick ? { syncCalls: 100_000, asyncCalls: 10_000, repeats: 3 } : {}) }));
    }
    report.results.napi = runs;
    out.push(`## N-API crossing (${rounds} runs, medians, µs per call, empty-loop baseline subtracted)\n`);
    out.push('| what | µs per call |\n| --- | --- |');
    for (const name of Object.keys(runs[0].usPerCall)) {
      out.push(`| ${name} | ${fmt(median(runs.map((r) => r.usPerCall[name])))} (${spread(runs.map((r) => r.usPerCall[name]))}) |`);
    }
    out.push('');
  }

  if (phases.has('criterion')) {
    log('criterion: cargo bench -p fastmcp-bridge-core --bench core_path');
    const timing = quick ? ['--warm-up-time', '1', '--measurement-time', '2'] : [];
    const result = spawnSync('cargo', ['bench', '-p', 'fastmcp-bridge-core', '--bench', 'core_path', '--', ...timing], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (result.status !== 0) throw new Error(`cargo bench exited with status ${result.status}`);
    const names = ['limiter_acquire_release', 'pending_insert_complete', 'enqueue_correlate_settle', 'enqueue_correlate_settle_json', 'enqueue_wait_grant'];
    report.results.criterion = {};
    out.push('## Core path without I/O (criterion, mean)\n');
    out.push('| benchmark | ns per call | calls/s |\n| --- | --- | --- |');
    for (const name of names) {
      const file = path.join(root, 'target', 'criterion', 'core_path', name, 'new', 'estimates.json');
      const ns = JSON.parse(readFileSync(file, 'utf8')).mean.point_estimate;
      report.results.criterion[name] = ns;
      out.push(`| ${name} | ${fmt(ns)} | ${fmt(1e9 / ns / 1e6)} M |`);
    }
    out.push('');
  }

  process.stdout.write(`${out.join('\n')}\n`);
  const jsonFile = args.json ?? path.join(benchDir, '.peers', 'results.json');
  writeFileSync(jsonFile, JSON.stringify(report, null, 2));
  log(`raw results in ${path.relative(root, jsonFile)}`);
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
