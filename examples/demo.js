// `npm run demo [-- --once] [-- --port N]`: starts the demo Express app with
// the workspaces alpha and beta, then runs an MCP client against alpha.
// Without --once the server keeps running until Ctrl-C.
import { parseArgs } from 'node:util';

import { runDemoClient } from './demo-client.js';
import { startServer } from './express-app/app.js';

const { values } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    port: { type: 'string', default: process.env.PORT ?? '3000' },
  },
});

const server = await startServer({ port: Number(values.port) });
console.log(`Express app on ${server.url}; MCP endpoints: ${server.url}/workspaces/{alpha,beta}/mcp`);
console.log(`dashboard: ${server.url}/dashboard/`);
try {
  await runDemoClient(`${server.url}/workspaces/alpha/mcp`);
} catch (err) {
  console.error('demo client failed:', err);
  await server.close();
  process.exit(1);
}
if (values.once) {
  await server.close();
} else {
  console.log('serving; press Ctrl-C to stop');
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => server.close().then(() => process.exit(0)));
  }
}
