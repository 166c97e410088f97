// Chaos run: calls at high concurrency while the workspace process is
// killed (SIGKILL) on a timer, or each time a number of calls has settled.
// Used in short form by tests/chaos.test.js (kills by count, so that a fast
// machine cannot finish before the first kill) and in long form by
// `node tests/chaos.js --calls 10000` (figures in
// bench/results/2026-11-22-supervision.md). Bounded: it stops when every
// call has settled.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { Bridge, BridgeError, errorCodes } from '../index.js';
import { bridgePids } from './helpers.js';

const labDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'workspaces', 'lab');


/**
 * @param {{ calls: number, concurrency: number, killEveryMs?: number, killEveryCalls?: number,
 *   transport?: 'http' | 'unix' }} options `killEveryMs`: kill on a timer; `killEveryCalls`: kill each
 *   time that many more calls have settled (the last time before the last call settles).
 * @returns {Promise<{ ok: number, errors: Record<string, number>, settledTwice: number, kills: number,
 *   seconds: number, inFlight: number, queued: number, unknownErrors: string[], leftover: number[] }>}
 */
export async function runChaos({ calls, concurrency, killEveryMs, killEveryCalls, transport = 'http' }) {
  const bridge = new Bridge({
    transport,
    // Restarts are expected here: do not let the intensity limit fail the workspace.
    workspaces: { lab: { dir: labDir, maxRestarts: 1000, maxConcurrent: concurrency, maxQueue: calls } },
  });
  await bridge.start('lab');
  const settledCount = new Array(calls).fill(0);
  const errors = {};
  const unknownErrors = [];
  let ok = 0;
  let kills = 0;
  const started = Date.now();
  const kill = () => {
    const { pid } = bridge.status('lab');
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
        kills += 1;
      } catch {
        /* already gone */
      }
    }
  };
  const killer = killEveryMs ? setInterval(kill, killEveryMs) : undefined;
  let next = 0;
  let settled = 0;
  async function worker() {
    while (next < calls) {
      const i = next++;
      try {
        const result = await bridge.call('lab', 'tools/call', { name: 'echo', arguments: { text: `c${i}` } }, { timeoutMs: 20_000 });
        if (result?.structuredContent?.result === `c${i}`) ok += 1;
        else unknownErrors.push(`wrong result for c${i}`);
      } catch (err) {
        const code = err instanceof BridgeError ? err.code : 'NOT_A_BRIDGE_ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
        if (!(typeof code === 'string' && code in errorCodes)) unknownErrors.push(String(code));
      } finally {
        settledCount[i] += 1;
        settled += 1;
        if (killEveryCalls && settled % killEveryCalls === 0 && settled < calls) kill();
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearInterval(killer);
  const seconds = (Date.now() - started) / 1000;
  const { inFlight, queued } = bridge.metrics('lab');
  await bridge.close();
  return {
    ok,
    errors,
    settledTwice: settledCount.filter((n) => n !== 1).length,
    kills,
    seconds,
    inFlight,
    queued,
    unknownErrors,
    leftover: bridgePids(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '64' },
      'kill-every-ms': { type: 'string', default: '2000' },
      'kill-every-calls': { type: 'string', default: '0' },
      transport: { type: 'string', default: 'http' },
    },
  });
  const report = await runChaos({
    calls: Number(values.calls),
    concurrency: Number(values.concurrency),
    killEveryMs: Number(values['kill-every-ms']),
    killEveryCalls: Number(values['kill-every-calls']),
    transport: values.transport,
  });
  console.log(JSON.stringify(report, null, 2));
}
