// The Express endpoint as a proxy of the `peers` benchmark:
// node bench/express_app.js '{"port":P,"command":...,"args":[...],"dir":...,"maxConcurrent":N,"fastPath":false}'
//
// Mounted the way examples/express-app mounts it (`app.use(bridgeRouter(bridge))`,
// no authentication), with one workspace `echo` whose process is the same
// stdio echo server every other proxy runs (`transport: 'stdio'`), on
// http://127.0.0.1:P/workspaces/echo/mcp. maxConcurrent is raised to the
// benchmark's concurrency (the default, 20, would queue a 32-way load).
// With `"fastPath": true` (proxy `express-fast`) the server's listener is
// `withMcpFastPath(app, router)`: the calls of MCP sessions are served
// before Express's dispatch. With `"authenticate": true` the router has an
// `authenticate` hook that reads the request through Express's API
// (`req.get`), as apps' hooks do: behind withMcpFastPath the request then
// gets the app's request prototype (proxies `express-auth`, `express-fast-auth`
// of bench/proxy_threads.js).
// Exits on SIGTERM or when stdin closes.
import http from 'node:http';
import { createRequire } from 'node:module';

import { Bridge } from '../index.js';
import { bridgeRouter, withMcpFastPath } from '../express-bridge/index.js';

// The project's Express (a root devDependency), not the older one a peer
// brings into bench/node_modules.
const express = createRequire(new URL('../package.json', import.meta.url))('express');

const spec = JSON.parse(process.argv[2]);
const bridge = new Bridge({
  maxConcurrent: spec.maxConcurrent ?? 64,
  maxQueue: 1000,
  workspaces: {
    echo: { dir: spec.dir, transport: 'stdio', command: spec.command, args: spec.args ?? [] },
  },
});
const app = express();
const router = bridgeRouter(bridge, spec.authenticate ? { authenticate: (req) => (req.get('host') ? 'bench' : null) } : {});
app.use(router);
const server = http.createServer(spec.fastPath ? withMcpFastPath(app, router) : app).listen(spec.port, '127.0.0.1');

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  server.closeAllConnections?.();
  server.close();
  await bridge.close();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
process.stdin.resume();
process.stdin.once('end', shutdown);
