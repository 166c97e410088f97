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

import { bridgeRouter, withMcpFastPath } from '../express-bridge/index.js';
import { bridge, projectExpress, spec, stopWith } from './lib/proxy-app.js';

const app = projectExpress()();
const router = bridgeRouter(bridge, spec.authenticate ? { authenticate: (req) => (req.get('host') ? 'bench' : null) } : {});
app.use(router);
const server = http.createServer(spec.fastPath ? withMcpFastPath(app, router) : app).listen(spec.port, '127.0.0.1');

stopWith(server);
