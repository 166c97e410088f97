// The proxies the Express endpoint is compared with (phase `peers`), the
// clients that reach what streamable HTTP cannot, and process-tree readings.
//
// Every proxy fronts the same backend, bench/echo_server.py over stdio,
// started by the proxy itself; the load generator is the raw undici MCP
// client of clients.js for every streamable HTTP endpoint.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

import { createParser } from 'eventsource-parser';
import { Client, Pool } from 'undici';

import { PROTOCOL_VERSION, echoed } from './clients.js';

/** A free loopback TCP port (closed again before the proxy binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a proxy; `stop()` sends SIGTERM (SIGKILL after 5 s) to its whole
 * process group, so helpers and the backend go too.
 */
export function spawnProxy(command, args, { env, cwd } = {}) {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'ignore', 'pipe'],
    detached: true, // a process group of its own
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Detached, the group would outlive a measurement that crashes: kill it
  // when this process exits, however it exits short of SIGKILL.
  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);
  return {
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    get exited() {
      return child.exitCode !== null || child.signalCode !== null;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const group = (signal) => {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      group('SIGTERM');
      const timer = setTimeout(() => group('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      group('SIGKILL'); // whatever the proxy left in its group
    },
  };
}

/** Retries `open()` until it succeeds or `timeoutMs` passes (the proxy is starting). */
export async function openWhenReady(makeClient, proxy, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  let lastError;
  while (performance.now() < deadline) {
    if (proxy?.exited) throw new Error(`the proxy exited before it served: ${proxy.stderr.slice(-1500)}`);
    const client = makeClient();
    try {
      await client.open();
      return client;
    } catch (err) {
      lastError = err;
      await client.close().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(`not ready within ${timeoutMs} ms: ${lastError?.message}; stderr: ${proxy?.stderr.slice(-1500)}`);
}

/**
 * MCP over the HTTP+SSE transport of MCP 2024-11-05 (all mcp-hub 4.2.1
 * serves): a GET stream whose first event names the POST endpoint; POSTs
 * get 202 and their answers come on the stream. The stream is parsed by
 * eventsource-parser; POSTs go through a undici Pool like clients.js's.
 */
export function legacySseClient({ url, concurrency, tool }) {
  const target = new URL(url);
  const streamClient = new Client(target.origin);
  const pool = new Pool(target.origin, { connections: Math.max(concurrency, 1) });
  const pending = new Map();
  let endpoint;
  let nextId = 1;
  let stream;
  let toolName = tool;

  function settle(message) {
    const entry = pending.get(message.id);
    if (!entry) return;
    pending.delete(message.id);
    if (message.error) entry.reject(new Error(`JSON-RPC error ${message.error.code}: ${message.error.message}`));
    else entry.resolve(message.result);
  }

  async function post(message) {
    const response = await pool.request({
      method: 'POST',
      path: endpoint,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
    });
    const body = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}: ${body.slice(0, 200)}`);
  }

  function request(method, params) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      post({ jsonrpc: '2.0', id, method, params }).catch((err) => {
        pending.delete(id);
        reject(err);
      });
    });
  }

  return {
    name: 'legacy-sse',
    async open() {
      stream = await streamClient.request({ method: 'GET', path: target.pathname, headers: { accept: 'text/event-stream' } });
      stream.body.on('error', () => {}); // destroyed on close
      if (stream.statusCode !== 200) throw new Error(`GET ${target.pathname}: HTTP ${stream.statusCode}`);
      let onEndpoint;
      const gotEndpoint = new Promise((resolve, reject) => {
        onEndpoint = resolve;
        setTimeout(() => reject(new Error('no endpoint event within 10 s')), 10_000).unref();
      });
      const parser = createParser({
        onEvent(event) {
          if (event.event === 'endpoint') return onEndpoint(event.data);
          if (event.event && event.event !== 'message') return;
          settle(JSON.parse(event.data));
        },
      });
      (async () => {
        for await (const chunk of stream.body) parser.feed(chunk.toString('utf8'));
      })().catch(() => {});
      const endpointUrl = new URL(await gotEndpoint, target);
      endpoint = endpointUrl.pathname + endpointUrl.search;
      await request('initialize', {
        protocolVersion: '2024-11-05',
        capabilities: {},
        clientInfo: { name: 'bench-legacy-sse', version: '0' },
      });
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
      if (!toolName) {
        // The hub renames child tools; take the one that ends in "echo".
        const { tools } = await request('tools/list', {});
        toolName = tools.map((t) => t.name).find((name) => name === 'echo' || name.endsWith('echo'));
        if (!toolName) throw new Error(`no echo tool in ${tools.map((t) => t.name).join(', ')}`);
      }
    },
    async call(text) {
      return echoed(await request('tools/call', { name: toolName, arguments: { text } }));
    },
    async close() {
      for (const entry of pending.values()) entry.reject(new Error('closed'));
      pending.clear();
      stream?.body.destroy();
      await Promise.allSettled([pool.close(), streamClient.close()]);
    },
  };
}

/**
 * The backend's floor: the echo server's own stdio, no proxy. One process,
 * newline-delimited JSON-RPC on its stdin and stdout, as many requests
 * written ahead as the caller has in flight (up to the concurrency).
 */
export function stdioClient({ command, args, env }) {
  let child;
  let nextId = 1;
  const pending = new Map();

  function request(method, params) {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  return {
    name: 'stdio',
    get pid() {
      return child?.pid;
    },
    async open() {
      child = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, ...env } });
      child.once('exit', (code, signal) => {
        for (const entry of pending.values()) entry.reject(new Error(`the server exited (${signal ?? code})`));
        pending.clear();
      });
      readline.createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          return; // not JSON-RPC
        }
        const entry = pending.get(message.id);
        if (!entry || message.method !== undefined) return;
        pending.delete(message.id);
        if (message.error) entry.reject(new Error(`JSON-RPC error ${message.error.code}: ${message.error.message}`));
        else entry.resolve(message.result);
      });
      await request('initialize', {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: 'bench-stdio', version: '0' },
      });
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    },
    async call(text) {
      return echoed(await request('tools/call', { name: 'echo', arguments: { text } }));
    },
    async close() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function children(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread exited meanwhile
    }
  }
  return out;
}

export function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * The proxy's own processes: `pid` and its descendants that run node (a
 * proxy's helpers); the backend (Python) and any shell wrapping it are left
 * out, for every proxy alike.
 */
export function proxyPids(pid) {
  const out = [pid];
  const queue = [...children(pid)];
  while (queue.length) {
    const p = queue.shift();
    if (comm(p) === 'node' || comm(p).startsWith('node')) out.push(p);
    queue.push(...children(p));
  }
  return out;
}

/** VmRSS of a process, in KiB (0 if it is gone). */
export function rssKiB(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}
