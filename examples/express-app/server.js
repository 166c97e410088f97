// `node examples/express-app/server.js`: serves the demo app until Ctrl-C.
// PORT (default 3000) and HOST (default 127.0.0.1) choose the address; with
// DEMO_TOKEN set, clients must send `Authorization: Bearer <DEMO_TOKEN>`.
import { startServer } from './app.js';

const server = await startServer({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
console.log(`fastmcp-bridge demo listening on ${server.url} (workspaces: alpha, beta; dashboard: ${server.url}/dashboard/)`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => server.close().then(() => process.exit(0)));
}
