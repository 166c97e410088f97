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
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { bridgeClient } from './lib/clients.js';
import { variantBench } from './lib/variants.js';

const here = path.dirname(fileURLToPath(import.meta.url));

variantBench({
  script: fileURLToPath(import.meta.url),
  title: 'bridge.call() against the bare echo server',
  variants: ['off', 'file', 'memory'],
  group: (pid, tid, name) => {
    if (tid === pid) return 'main thread (JS, N-API)';
    if (name.startsWith('tokio')) return 'tokio worker';
    if (name.startsWith('fastmcp-bridge')) return 'request log writer';
    return 'other threads (V8, libuv)';
  },
  async open(variant, { concurrency }) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-bench-log-'));
    const requestLog = { off: undefined, file: { path: path.join(dir, 'requests.db') }, memory: { path: ':memory:' } }[variant];
    const client = bridgeClient({
      dir: path.join(here, 'echo-workspace'),
      python: path.join(here, 'bare-hub'),
      concurrency,
      bridgeOptions: requestLog ? { requestLog } : {},
    });
    await client.open();
    return { client, close: async () => rmSync(dir, { recursive: true, force: true }) };
  },
});
