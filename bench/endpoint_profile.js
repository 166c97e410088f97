// Where the JS time of the Express endpoint goes: node
// bench/endpoint_profile.js [--proxy express|express-fast|node-http|express-bare] [--ms 8000]
// [--concurrency 32] [--top 25] [--backend stdio-echo|fastmcp]
//
// Starts the proxy of the `peers` phase (bench/express_app.js, or the bare
// node:http front door bench/http_app.js) under `node --cpu-prof` over one
// stdio workspace, loads it with the raw undici MCP client of
// lib/clients.js for MS ms after a 1 s warm-up, stops it (the profile is
// written as it exits) and prints, in Markdown:
// - the profile's self time by category (where the code comes from:
//   express, body-parser, the router's own modules, the bridge's JS
//   wrapper, node:http, GC, the native addon and other native code, idle);
// - the top functions by self time, in µs per call.
// The .cpuprofile is kept under bench/.peers/profiles/ for a closer look
// (Chrome DevTools, or speedscope).
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { defaultPython } from '../index.js';
import { undiciClient } from './lib/clients.js';
import { loadFor } from './lib/measure.js';
import { freePort, openWhenReady, spawnProxy } from './lib/peers.js';
import { benchDir } from './setup.js';

const { values: args } = parseArgs({
  options: {
    proxy: { type: 'string', default: 'express' },
    backend: { type: 'string', default: 'stdio-echo' },
    ms: { type: 'string', default: '8000' },
    concurrency: { type: 'string', default: '32' },
    top: { type: 'string', default: '25' },
  },
});
const concurrency = Number(args.concurrency);
const python = defaultPython();
const dir = path.join(benchDir, 'echo-workspace');
const backendArgs = args.backend === 'fastmcp' ? [path.join(benchDir, 'echo_server.py'), '--dir', dir] : [path.join(benchDir, 'stdio_echo.py')];
const apps = { express: 'express_app.js', 'express-fast': 'express_app.js', 'node-http': 'http_app.js', 'express-bare': 'http_app.js' };
if (!apps[args.proxy]) throw new Error(`--proxy: one of ${Object.keys(apps).join(', ')}`);

const profileDir = path.join(benchDir, '.peers', 'profiles', `${args.proxy}-${Date.now()}`);
mkdirSync(profileDir, { recursive: true });
const port = await freePort();
const spec = { port, dir, command: python, args: backendArgs, maxConcurrent: 2 * concurrency, express: args.proxy === 'express-bare', fastPath: args.proxy === 'express-fast' };
const proxy = spawnProxy(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profileDir, path.join(benchDir, apps[args.proxy]), JSON.stringify(spec)]);
const url = `http://127.0.0.1:${port}/workspaces/echo/mcp`;
const client = await openWhenReady(() => undiciClient({ url, concurrency }), proxy);
let calls;
try {
  await loadFor(client, concurrency, 1000);
  const load = await loadFor(client, concurrency, Number(args.ms));
  if (load.errors) throw new Error(`${load.errors} calls failed: ${load.firstError?.message}`);
  ({ calls } = load);
} finally {
  await client.close().catch(() => {});
  await proxy.stop();
}
// The warm-up's calls are in the profile too.
const warm = calls * (1000 / Number(args.ms));
const profileFile = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
if (!profileFile) throw new Error(`no profile written in ${profileDir}`);
const profile = JSON.parse(readFileSync(path.join(profileDir, profileFile), 'utf8'));

// Self time per node, from the samples and their time deltas.
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

function category({ functionName, url: file }) {
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8 and native, unattributed ((program))';
  if (!file) return 'native functions (the addon, builtins)';
  if (file.includes('/node_modules/express/') || file.includes('/node_modules/router/')) return 'express and its router';
  if (/node_modules\/(body-parser|raw-body|iconv-lite|type-is|content-type|media-typer|mime-)/.test(file)) return 'body parsing (body-parser)';
  if (file.includes('/node_modules/')) return `other packages (${file.split('/node_modules/').pop().split('/')[0]} ...)`;
  if (file.includes('/express-bridge/')) return 'the router (express-bridge/)';
  if (/\/(index|errors|tracing|cluster)\.js$/.test(file) && !file.includes('/bench/')) return 'the Bridge wrapper (index.js)';
  if (file.startsWith('node:')) return /node:_?http|node:net|node:stream|node:internal\/(http|streams|stream_base)/.test(file) ? 'node:http, net, streams' : 'other node: internals';
  if (file.includes('/bench/')) return 'the bench app';
  return 'other';
}

const byCategory = new Map();
const byFunction = new Map();
let total = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (!us) continue;
  total += us;
  const cat = category(node.callFrame);
  byCategory.set(cat, (byCategory.get(cat) ?? 0) + us);
  const { functionName, url: file, lineNumber } = node.callFrame;
  const where = file ? `${file.replace(/^file:\/\//, '').split('/').slice(-2).join('/')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
}
const allCalls = calls + warm;
const perCall = (us) => (us / allCalls).toFixed(1);
const busy = total - (byCategory.get('idle') ?? 0);
const lines = [
  `Proxy ${args.proxy}, backend ${args.backend}, concurrency ${concurrency}, ${args.ms} ms: ${calls} calls (${Math.round((calls * 1000) / Number(args.ms))}/s); main thread busy ${perCall(busy)} µs per call.\n`,
  '| where (self time) | µs per call | share of busy |',
  '| --- | --- | --- |',
];
for (const [cat, us] of [...byCategory].sort((a, b) => b[1] - a[1])) {
  if (cat === 'idle') continue;
  lines.push(`| ${cat} | ${perCall(us)} | ${((100 * us) / busy).toFixed(1)}% |`);
}
lines.push('', '| function (self time) | µs per call |', '| --- | --- |');
for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) {
  if (fn.startsWith('(idle)')) continue;
  lines.push(`| \`${fn.replaceAll('|', '\\|')}\` | ${perCall(us)} |`);
}
lines.push('', `Profile: ${path.relative(process.cwd(), path.join(profileDir, profileFile))}`);
process.stdout.write(`${lines.join('\n')}\n`);
if (process.env.FASTMCP_BRIDGE_KEEP_PROFILES === '0') rmSync(profileDir, { recursive: true, force: true });
process.exit(0);
