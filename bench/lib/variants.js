// Side-by-side runs of one load in several variants, each round in fresh
// processes and in rotating order, with the CPU time of each process's
// threads read from /proc: what bench/request_log.js and bench/tracing.js
// share.
//
// A script calls `variantBench({ ... })` once at its top level. In the parent
// it runs `rounds` rounds of every variant (a child process of the same
// script each, with `--child <variant>`) and prints a Markdown table of
// medians: calls/s, and µs of CPU per call by thread group. In a child it
// opens the variant's client (`open(variant)`), warms it up for 1 s, runs
// `concurrency` calls at a time for `ms` ms and reports to the parent.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

import { loadFor } from './measure.js';
import { threadCpu } from './threads.js';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/**
 * @param {object} bench
 * @param {string} bench.script the calling script's path (`fileURLToPath(import.meta.url)`)
 * @param {string} bench.title what the table measures (its first line)
 * @param {string[]} bench.variants variant names, the table's columns
 * @param {(variant: string, run: { concurrency: number }) => Promise<{ client: object, close?: () => Promise<void> }>} bench.open
 *   the variant's client (as bench/lib/clients.js makes them), opened
 * @param {(pid: number, tid: number, name: string) => string} bench.group a thread's group
 * @param {(variant: string) => string[]} [bench.nodeArgs] Node options of a variant's child process
 * @param {{ rounds?: string, ms?: string, concurrency?: string }} [bench.defaults]
 */
export function variantBench({ script, title, variants, open, group, nodeArgs = () => [], defaults = {} }) {
  const { values: args } = parseArgs({
    options: {
      rounds: { type: 'string', default: defaults.rounds ?? '3' },
      ms: { type: 'string', default: defaults.ms ?? '5000' },
      concurrency: { type: 'string', default: defaults.concurrency ?? '64' },
      child: { type: 'string' },
    },
  });

  async function child(variant) {
    const concurrency = Number(args.concurrency);
    const { client, close } = await open(variant, { concurrency });
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
      await close?.();
    }
  }

  function run(variant) {
    return new Promise((resolve, reject) => {
      const argv = [...nodeArgs(variant), script, '--child', variant, '--ms', args.ms, '--concurrency', args.concurrency];
      const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${variant}: exit ${code}`))));
    });
  }

  async function main() {
    const runs = Object.fromEntries(variants.map((v) => [v, []]));
    const rounds = Number(args.rounds);
    for (let r = 0; r < rounds; r += 1) {
      for (let i = 0; i < variants.length; i += 1) {
        const variant = variants[(i + r) % variants.length];
        process.stderr.write(`${shortName(script)}: round ${r + 1}/${rounds}: ${variant}\n`);
        runs[variant].push(await run(variant));
      }
    }
    const groups = [...new Set(Object.values(runs).flat().flatMap((row) => Object.keys(row.perCallUs)))].sort();
    const fmt = (x) => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
    const lines = [
      `${title}, concurrency ${args.concurrency}, ${args.ms} ms per run, ${rounds} rounds (medians):\n`,
      `| | ${variants.join(' | ')} |`,
      `| --- |${variants.map(() => ' --- |').join('')}`,
      `| calls/s | ${variants.map((v) => fmt(median(runs[v].map((row) => row.callsPerSec)))).join(' | ')} |`,
      ...groups.map((g) => `| CPU per call, ${g} (µs) | ${variants.map((v) => fmt(median(runs[v].map((row) => row.perCallUs[g] ?? 0)))).join(' | ')} |`),
      `| CPU per call, all threads (µs) | ${variants.map((v) => fmt(median(runs[v].map((row) => Object.values(row.perCallUs).reduce((a, b) => a + b, 0))))).join(' | ')} |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  const done = args.child
    ? child(args.child).then(() => process.exit(0))
    : main();
  done.catch((err) => {
    console.error(err?.stack ?? err);
    process.exit(1);
  });
}

/** `bench/<file>` of a script's path, for progress lines. */
const shortName = (script) => script.split('/').slice(-2).join('/');
