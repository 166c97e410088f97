// What the request log costs bridge.call(), thread by thread:
// node bench/request_log.js [--rounds N] [--ms MS] [--concurrency C]
//
// Each round runs, in fresh processes and in rotating order, bridge.call()
// against the bare echo server of the ceiling phase (bench/bare-hub) with
// the request log off, on a SQLite file, and on `:memory:`, at concurrency
// C (default 64) for MS ms (default 5000) after a 1 s warm-up. Each process
// reads its own threads' CPU time from /proc before and after: Node's main
// thread (JS and the N-API calls), the tokio worker, the request log's
// writer thread (`fastmcp-bridge-request-log`), the rest. Prints a Markdown
// table of medians over rounds: calls/s, and µs of CPU per call by thread.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { bridgeClient } from './lib/clients.js';
import { loadFor } from './lib/measure.js';
import { threadCpu } from './lib/threads.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    ms: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    child: { type: 'string' },
  },
});
const VARIANTS = ['off', 'file', 'memory'];

const group = (pid, tid, name) => {
  if (tid === pid) return 'main thread (JS, N-API)';
  if (name.startsWith('tokio')) return 'tokio worker';
  if (name.startsWith('fastmcp-bridge')) return 'request log writer';
  return 'other threads (V8, libuv)';
};

async function child(variant) {
  const concurrency = Number(args.concurrency);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-bench-log-'));
  const requestLog = { off: undefined, file: { path: path.join(dir, 'requests.db') }, memory: { path: ':memory:' } }[variant];
  const client = bridgeClient({
    dir: path.join(here, 'echo-workspace'),
    python: path.join(here, 'bare-hub'),
    concurrency,
    bridgeOptions: requestLog ? { requestLog } : {},
  });
  await client.open();
  try {
    await loadFor(client, concurrency, 1000);
    const before = threadCpu(process.pid, group);
    const { calls, errors } = await loadFor(client, concurrency, Number(args.ms));
    const after = threadCpu(process.pid, group);
    if (errors) throw new Error(`${errors} calls failed`);
    const perCallUs = Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k] - (before[k] ?? 0)) * 1000) / calls]));
    process.stdout.write(`${JSON.stringify({ variant, callsPerSec: calls / (Number(args.ms) / 1000), perCallUs })}\n`);
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(variant) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', variant, '--ms', args.ms, '--concurrency', args.concurrency], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${variant}: exit ${code}`))));
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main() {
  const runs = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  const rounds = Number(args.rounds);
  for (let r = 0; r < rounds; r += 1) {
    for (let i = 0; i < VARIANTS.length; i += 1) {
      const variant = VARIANTS[(i + r) % VARIANTS.length];
      process.stderr.write(`request log bench: round ${r + 1}/${rounds}: ${variant}\n`);
      runs[variant].push(await run(variant));
    }
  }
  const groups = [...new Set(Object.values(runs).flat().flatMap((row) => Object.keys(row.perCallUs)))].sort();
  const fmt = (x) => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const lines = [
    `bridge.call() against the bare echo server, concurrency ${args.concurrency}, ${args.ms} ms per run, ${rounds} rounds (medians):\n`,
    `| | ${VARIANTS.join(' | ')} |`,
    `| --- |${VARIANTS.map(() => ' --- |').join('')}`,
    `| calls/s | ${VARIANTS.map((v) => fmt(median(runs[v].map((row) => row.callsPerSec)))).join(' | ')} |`,
    ...groups.map((g) => `| CPU per call, ${g} (µs) | ${VARIANTS.map((v) => fmt(median(runs[v].map((row) => row.perCallUs[g] ?? 0)))).join(' | ')} |`),
    `| CPU per call, all threads (µs) | ${VARIANTS.map((v) => fmt(median(runs[v].map((row) => Object.values(row.perCallUs).reduce((a, b) => a + b, 0))))).join(' | ')} |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (args.child) {
  child(args.child).then(
    () => process.exit(0),
    (err) => {
      console.error(err?.stack ?? err);
      process.exit(1);
    },
  );
} else {
  main().catch((err) => {
    console.error(err?.stack ?? err);
    process.exitCode = 1;
  });
}
