// One measurement of the `peers` phase in a process of its own:
// node bench/peer_client.js '<json spec>' prints one JSON line.
//
// spec: { peer: 'express' | 'express-fast' | 'node-http' | 'express-bare' | 'supergateway' | 'mcp-proxy' | 'mcp-hub' | 'floor',
//         backend: 'fastmcp' | 'stdio-echo', python, echoServer, stdioEcho, dir,
//         latency: { warmup, calls },
//         throughput: { concurrency, warmupMs, ms },
//         payload?: { sizes: [{ size, calls }], warmup } }
//
// Every proxy runs the same backend over stdio, spawned by the proxy
// itself: `<python> bench/echo_server.py --dir bench/echo-workspace` (the
// FastMCP echo server, `fastmcp`) or `<python> bench/stdio_echo.py` (a
// minimal one costing next to nothing per call, `stdio-echo`), and is
// reached on loopback by the same load generator (the raw undici MCP client
// of lib/clients.js; mcp-hub, which serves only the HTTP+SSE transport of
// MCP 2024-11-05, through lib/peers.js's legacySseClient). `floor` is the
// backend's own stdio, no proxy. `express-fast` is the Express endpoint
// behind `withMcpFastPath`. `node-http` and `express-bare` are no
// peers but lower bounds (bench/http_app.js): bridge.call() behind a bare
// node:http server, and the same handler as the one route of an Express app. The proxy's RSS (VmRSS of the proxy process
// and its node helpers, backend excluded) is read after the warm-up and
// after the load; its CPU and the backend's are read from /proc.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { undiciClient } from './lib/clients.js';
import { processCpuMs } from './lib/hub.js';
import { latencyPhase, payloadPhase, throughputPhase } from './lib/measure.js';
import { children, comm, freePort, legacySseClient, openWhenReady, proxyPids, rssKiB, spawnProxy, stdioClient } from './lib/peers.js';
import { benchDir } from './setup.js';

const spec = JSON.parse(process.argv[2]);
const concurrency = spec.throughput?.concurrency ?? 1;
const backend = spec.backend === 'stdio-echo' ? [spec.python, spec.stdioEcho] : [spec.python, spec.echoServer, '--dir', spec.dir];
const shellQuote = (s) => `'${s.replaceAll("'", "'\\''")}'`;

/** Starts the proxy under test; resolves with `{ proxy, url, makeClient }`. */
async function startPeer(scratch) {
  const port = await freePort();
  const node = process.execPath;
  switch (spec.peer) {
    case 'express':
    case 'express-fast': {
      const app = { port, dir: spec.dir, command: spec.python, args: backend.slice(1), maxConcurrent: spec.maxConcurrent ?? 2 * concurrency, fastPath: spec.peer === 'express-fast' };
      const args = [path.join(benchDir, 'express_app.js'), JSON.stringify(app)];
      const proxy = spawnProxy(node, args);
      const url = `http://127.0.0.1:${port}/workspaces/echo/mcp`;
      return { proxy, makeClient: () => undiciClient({ url, concurrency }) };
    }
    case 'node-http':
    case 'express-bare': {
      const app = { port, dir: spec.dir, command: spec.python, args: backend.slice(1), maxConcurrent: spec.maxConcurrent ?? 2 * concurrency, express: spec.peer === 'express-bare' };
      const proxy = spawnProxy(node, [path.join(benchDir, 'http_app.js'), JSON.stringify(app)]);
      const url = `http://127.0.0.1:${port}/workspaces/echo/mcp`;
      return { proxy, makeClient: () => undiciClient({ url, concurrency }) };
    }
    case 'supergateway': {
      const cli = path.join(benchDir, 'node_modules', 'supergateway', 'dist', 'index.js');
      const args = [cli, '--stdio', backend.map(shellQuote).join(' '), '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none'];
      const proxy = spawnProxy(node, args);
      const url = `http://127.0.0.1:${port}/mcp`;
      return { proxy, makeClient: () => undiciClient({ url, concurrency }) };
    }
    case 'mcp-proxy': {
      const cli = path.join(benchDir, '.peers', 'venv', 'bin', 'mcp-proxy');
      const proxy = spawnProxy(cli, ['--host', '127.0.0.1', '--port', String(port), '--log-level', 'WARNING', '--', ...backend]);
      const url = `http://127.0.0.1:${port}/mcp`;
      return { proxy, makeClient: () => undiciClient({ url, concurrency }) };
    }
    case 'mcp-hub': {
      // A config of its own, and HOME / XDG dirs in a scratch directory, so
      // that its logs, caches and state stay out of the user's.
      const config = path.join(scratch, 'mcp-hub.json');
      writeFileSync(config, JSON.stringify({ mcpServers: { echo: { command: backend[0], args: backend.slice(1) } } }));
      const cli = path.join(benchDir, 'node_modules', 'mcp-hub', 'dist', 'cli.js');
      const env = { HOME: scratch, XDG_CONFIG_HOME: scratch, XDG_STATE_HOME: scratch, XDG_CACHE_HOME: scratch, XDG_DATA_HOME: scratch };
      const proxy = spawnProxy(node, [cli, '--port', String(port), '--config', config], { env, cwd: scratch });
      const url = `http://127.0.0.1:${port}/mcp`;
      return { proxy, makeClient: () => legacySseClient({ url, concurrency, tool: null }) };
    }
    case 'floor':
      return { proxy: null, makeClient: () => stdioClient({ command: backend[0], args: backend.slice(1) }) };
    default:
      throw new Error(`unknown peer ${spec.peer}`);
  }
}

/** Pids of the backend processes (Python) under `root`, `root` excluded. */
function pythonPids(root) {
  const out = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    for (const kid of children(pid)) {
      if (comm(kid).startsWith('python')) out.push(kid);
      queue.push(kid);
    }
  }
  return out;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const cpuOf = (pids) => () => sum(pids().map((pid) => { try { return processCpuMs(pid); } catch { return 0; } }));

async function main() {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-peers-'));
  const { proxy, makeClient } = await startPeer(scratch);
  const out = { peer: spec.peer };
  let client;
  try {
    client = await openWhenReady(makeClient, proxy);
    // The proxy's processes and the backend's, looked up at each reading
    // (a proxy may start its backend with the first session). mcp-proxy is
    // itself Python: its own process is the proxy, its Python child the
    // backend; the floor has no proxy, only the backend it spawned.
    const proxyOf = () => (proxy ? proxyPids(proxy.pid) : []);
    const backendOf = () => (proxy ? pythonPids(proxy.pid) : [client.pid]);
    const rss = () => sum(proxyOf().map(rssKiB));
    const proxyCpu = cpuOf(proxyOf);
    const backendCpu = cpuOf(backendOf);

    if (spec.latency) out.latency = await latencyPhase(client, spec.latency, backendCpu);
    out.rssIdleKiB = rss();
    if (spec.throughput) {
      const p0 = proxyCpu();
      out.throughput = await throughputPhase(client, spec.throughput, backendCpu);
      out.throughput.proxyCpuPerCallMs = (proxyCpu() - p0) / out.throughput.calls;
    }
    out.rssKiB = rss();
    if (spec.payload) {
      // Echo calls of each size at concurrency 1, with the proxy's CPU per
      // call (warm-up calls included).
      out.payload = [];
      for (const size of spec.payload.sizes) {
        const p0 = proxyCpu();
        const [row] = await payloadPhase(client, { sizes: [size], warmup: spec.payload.warmup });
        row.proxyCpuPerCallMs = row.calls ? (proxyCpu() - p0) / (row.calls + spec.payload.warmup) : null;
        out.payload.push(row);
      }
    }
    out.proxyProcesses = proxyOf().length;
    out.backendProcesses = backendOf().length;
  } finally {
    await client?.close().catch(() => {});
    await proxy?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err?.stack ?? err);
    process.exit(1);
  },
);
