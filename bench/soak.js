// The Express endpoint's memory under load: node bench/soak.js
// [--sessions 1000] [--load-ms 60000] [--soak-ms 600000]
// [--backend stdio-echo|fastmcp] [--sample-ms 5000]
//
// Starts bench/express_app.js (the Express endpoint, one stdio workspace, as
// the `peers` phase does; the minimal bench/stdio_echo.py backend by
// default), then:
// 1. opens SESSIONS MCP sessions (initialize and notifications/initialized
//    each, then held open to the end) and loads them at concurrency 64 for
//    LOAD_MS, each call on the next session in turn;
// 2. loads them at concurrency 32 for SOAK_MS.
// The proxy's RSS (VmRSS of its process, backend excluded) is read every
// SAMPLE_MS. Prints, in Markdown, the RSS after the sessions opened and
// after phase 1, then phase 2 minute by minute (median of the minute's
// samples) with the growth from its first minute to its last. Every
// answer is checked. Not part of `npm test`: it runs for 11 minutes.
import { parseArgs } from 'node:util';
import path from 'node:path';

import { Pool } from 'undici';

import { defaultPython } from '../index.js';
import { PROTOCOL_VERSION } from './lib/clients.js';
import { freePort, rssKiB, spawnProxy } from './lib/peers.js';
import { benchDir } from './setup.js';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    'load-ms': { type: 'string', default: '60000' },
    'soak-ms': { type: 'string', default: '600000' },
    'sample-ms': { type: 'string', default: '5000' },
    backend: { type: 'string', default: 'stdio-echo' },
  },
});
const SESSIONS = Number(args.sessions);
const LOAD_MS = Number(args['load-ms']);
const SOAK_MS = Number(args['soak-ms']);
const SAMPLE_MS = Number(args['sample-ms']);
const ACCEPT = 'application/json, text/event-stream';

const python = defaultPython();
const dir = path.join(benchDir, 'echo-workspace');
const backendArgs = args.backend === 'fastmcp' ? [path.join(benchDir, 'echo_server.py'), '--dir', dir] : [path.join(benchDir, 'stdio_echo.py')];
const port = await freePort();
const spec = { port, dir, command: python, args: backendArgs, maxConcurrent: 128 };
const proxy = spawnProxy(process.execPath, [path.join(benchDir, 'express_app.js'), JSON.stringify(spec)]);
const origin = `http://127.0.0.1:${port}`;
const mcpPath = '/workspaces/echo/mcp';
const pool = new Pool(origin, { connections: 64 });
const mib = (kib) => (kib / 1024).toFixed(1);

async function post(message, sessionId) {
  const headers = { 'content-type': 'application/json', accept: ACCEPT };
  if (sessionId) {
    headers['mcp-session-id'] = sessionId;
    headers['mcp-protocol-version'] = PROTOCOL_VERSION;
  }
  const response = await pool.request({ method: 'POST', path: mcpPath, headers, body: JSON.stringify(message) });
  const body = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}: ${body.slice(0, 200)}`);
  return { sessionId: response.headers['mcp-session-id'], body };
}

async function openSession(i) {
  const params = { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: `soak-${i}`, version: '0' } };
  const { sessionId } = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params });
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId);
  return sessionId;
}

/** `concurrency` loops for `ms`, each call on the next session; every answer checked. */
async function load(sessions, concurrency, ms) {
  const end = performance.now() + ms;
  let next = 0;
  let calls = 0;
  const worker = async (w) => {
    for (let i = 0; performance.now() < end; i++) {
      const text = `s${w}.${i}`;
      const id = next++;
      const { body } = await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } }, sessions[id % sessions.length]);
      if (JSON.parse(body).result?.content?.[0]?.text !== text) throw new Error(`bad answer: ${body.slice(0, 200)}`);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return calls;
}

/** Runs `fn` while sampling the proxy's RSS every SAMPLE_MS: `{ value, samples: [{ at, kib }] }`. */
async function sampled(fn) {
  const started = performance.now();
  const samples = [];
  const timer = setInterval(() => samples.push({ at: performance.now() - started, kib: rssKiB(proxy.pid) }), SAMPLE_MS);
  try {
    return { value: await fn(), samples };
  } finally {
    clearInterval(timer);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  let sessions;
  for (let attempt = 0; ; attempt++) {
    try {
      sessions = [await openSession(0)];
      break;
    } catch (err) {
      if (attempt > 100 || proxy.exited) throw new Error(`the proxy did not serve: ${err.message}; ${proxy.stderr.slice(-1000)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  for (let i = 1; i < SESSIONS; i += 50) {
    sessions.push(...(await Promise.all(Array.from({ length: Math.min(50, SESSIONS - i) }, (_, k) => openSession(i + k)))));
  }
  const opened = rssKiB(proxy.pid);
  console.error(`soak: ${sessions.length} sessions open, RSS ${mib(opened)} MiB; loading at c=64 for ${LOAD_MS} ms`);
  const loaded = await sampled(() => load(sessions, 64, LOAD_MS));
  const afterLoad = rssKiB(proxy.pid);
  console.error(`soak: ${loaded.value} calls, RSS ${mib(afterLoad)} MiB; soaking at c=32 for ${SOAK_MS} ms`);
  const soaked = await sampled(() => load(sessions, 32, SOAK_MS));
  const afterSoak = rssKiB(proxy.pid);

  const lines = [
    `Backend ${args.backend}; ${sessions.length} MCP sessions open throughout; RSS of the proxy process (VmRSS), sampled every ${SAMPLE_MS / 1000} s.\n`,
    '| when | RSS (MiB) |',
    '| --- | --- |',
    `| ${sessions.length} sessions opened | ${mib(opened)} |`,
    `| after ${LOAD_MS / 1000} s at c=64 (${loaded.value.toLocaleString('en-US')} calls, ${Math.round((loaded.value * 1000) / LOAD_MS).toLocaleString('en-US')}/s) | ${mib(afterLoad)} (max during: ${mib(Math.max(...loaded.samples.map((s) => s.kib)))}) |`,
  ];
  const minutes = [];
  for (const sample of soaked.samples) (minutes[Math.floor(sample.at / 60_000)] ??= []).push(sample.kib);
  for (const [i, kibs] of minutes.entries()) {
    if (kibs) lines.push(`| soak at c=32, minute ${i + 1} (median) | ${mib(median(kibs))} |`);
  }
  const full = minutes.filter(Boolean);
  const first = median(full[0]);
  const last = median(full[full.length - 1]);
  lines.push(`| after the soak (${soaked.value.toLocaleString('en-US')} calls) | ${mib(afterSoak)} |`);
  lines.push('', `Soak: minute ${full.length} against minute 1: ${(((last - first) / first) * 100).toFixed(1)}% (target: within 5%); after ${LOAD_MS / 1000} s at c=64 with ${sessions.length} sessions: ${mib(afterLoad)} MiB (target: <= 150 MiB).`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await pool.close();
  await proxy.stop();
}
process.exit(0);
