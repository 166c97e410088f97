// Shared helpers of the Node tests, core and Express alike: the repository's
// workspaces, polling, process checks, and a real Express server on port 0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import express from 'express';
import { defaultPython } from 'fastmcp-bridge';

export const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const workspacesDir = path.join(repoDir, 'examples', 'workspaces');
/** The lab workspace: tools that sleep, report progress, log, ask the client. */
export const labDir = path.join(repoDir, 'tests', 'workspaces', 'lab');

/**
 * Options of the lab workspace over `transport`: the hub for http and unix,
 * a plain FastMCP stdio server for stdio; `extra` adds options.
 */
export function labWorkspace(transport, extra = {}) {
  if (transport === 'stdio') {
    return { transport, command: defaultPython(), args: [path.join(labDir, 'stdio_server.py')], ...extra };
  }
  return { transport, dir: labDir, ...extra };
}

/** Polls `check` every 50 ms until it returns true, for at most `ms`. */
export async function eventually(check, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await delay(50);
  }
  assert.fail(`condition not met within ${ms} ms`);
}

/** Pids of the workspace hub processes this test process started. */
/** The pids of the children of `pid` whose command line matches `pattern`. */
export function childPids(pid, pattern) {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', pattern], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when none matches
  }
}

/**
 * The hub processes of this process's bridges: spawned ones (its children)
 * and forked ones (children of its fork servers, with the fork server's
 * command line, as `fork` without `exec` leaves it).
 */
export function hubPids() {
  const forkServers = childPids(process.pid, 'fastmcp_workspace[.]zygote');
  return [...childPids(process.pid, 'fastmcp_workspace --dir'), ...forkServers.flatMap((pid) => childPids(pid, 'fastmcp_workspace[.]zygote'))];
}

/** Every Python process of this process's bridges: the hubs and the fork servers. */
export function bridgePids() {
  return [...new Set([...childPids(process.pid, 'fastmcp_workspace'), ...hubPids()])];
}

/**
 * Creates a workspace directory in a temporary folder.
 * @param {object} config the workspace.json content
 * @param {Record<string, string>} [files] more files by name
 */
export function makeWorkspace(config, files = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-ws-'));
  writeFileSync(path.join(dir, 'workspace.json'), JSON.stringify(config));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/**
 * Whether a process with this pid exists and has not exited. A zombie (it
 * exited; its parent has not reaped it yet) counts as exited: an orphan's
 * zombie waits for PID 1, which may reap it only seconds later.
 */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...", comm may contain spaces or parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export const MCP_ACCEPT = 'application/json, text/event-stream';

/**
 * Serves `mount(app)` on 127.0.0.1, port 0.
 * @returns {Promise<{ base: string, close: () => Promise<void> }>}
 */
export async function serve(mount) {
  const app = express();
  mount(app);
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** POSTs one JSON-RPC message with MCP headers; `headers` override them. */
export function postMcp(url, message, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: MCP_ACCEPT, ...headers },
    body: typeof message === 'string' ? message : JSON.stringify(message),
  });
}

/** Initializes an MCP session over plain HTTP and returns its id. */
export async function initialize(url, headers = {}) {
  const response = await postMcp(url, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'http-test', version: '0' } },
  }, headers);
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.result.protocolVersion, '2025-06-18');
  const sessionId = response.headers.get('mcp-session-id');
  assert.ok(sessionId);
  return sessionId;
}
