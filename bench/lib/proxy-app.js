// What the bench's proxy apps (bench/express_app.js, bench/http_app.js)
// share: their spec, their Bridge with one stdio workspace `echo`, the
// project's Express, and how they stop.
import { createRequire } from 'node:module';

import { Bridge } from '../../index.js';

/** The app's spec: `{ port, dir, command, args, maxConcurrent, ... }`, the JSON of argv[2]. */
export const spec = JSON.parse(process.argv[2]);

/**
 * The Bridge: one stdio workspace `echo` running `spec.command` with
 * `spec.args`; maxConcurrent raised to the bench's concurrency (the
 * default, 20, would queue a 32-way load).
 */
export const bridge = new Bridge({
  maxConcurrent: spec.maxConcurrent ?? 64,
  maxQueue: 1000,
  workspaces: {
    echo: { dir: spec.dir, transport: 'stdio', command: spec.command, args: spec.args ?? [] },
  },
});

/**
 * The project's Express (a root devDependency), not the older one a peer
 * brings into bench/node_modules.
 */
export function projectExpress() {
  return createRequire(new URL('../../package.json', import.meta.url))('express');
}

/** Closes `server` and the bridge, then exits, on SIGTERM, SIGINT or the end of stdin. */
export function stopWith(server) {
  let closing = false;
  async function shutdown() {
    if (closing) return;
    closing = true;
    server.closeAllConnections();
    server.close();
    await bridge.close();
    process.exit(0);
  }
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.stdin.resume();
  process.stdin.once('end', shutdown);
}
