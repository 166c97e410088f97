// The MCP endpoint end to end with the official Python `mcp` client
// (python_client.py, the version the hub's venv pins), through a real
// Express server on loopback, against a real lab workspace process.
//
// python_client.py runs initialize, tools/list, tools/call, progress,
// logging and cancellation in both handshake-era revisions (2025-06-18 and
// 2025-11-25), then connects as a client of the sessionless 2026-07-28
// revision would: `mode="auto"` probes server/discover and must fall back to
// initialize; a client pinned to 2026-07-28 must get an error, not a hang.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Bridge, defaultPython } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

import { labDir, serve } from '../helpers.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'python_client.py');

describe('MCP endpoint with the official Python mcp client', () => {
  let bridge;
  let router;
  let server;
  let report;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir } } });
    router = bridgeRouter(bridge);
    server = await serve((app) => app.use(router));
    const { stdout } = await promisify(execFile)(defaultPython(), [script, `${server.base}/workspaces/lab/mcp`], {
      timeout: 180_000,
      killSignal: 'SIGKILL',
      maxBuffer: 4 * 1024 * 1024,
    });
    report = JSON.parse(stdout);
  });

  after(async () => {
    await server.close();
    await router.close();
    await bridge.close();
  });

  for (const version of ['2025-06-18', '2025-11-25']) {
    describe(`MCP ${version}`, () => {
      it('negotiates the revision the client offers and lists the workspace tools', () => {
        const run = report.handshake[version];
        assert.equal(run.protocolVersion, version);
        assert.equal(run.sessionProtocolVersion, version);
        assert.equal(run.serverName, 'lab');
        for (const name of ['echo', 'progress', 'log', 'sleep_started', 'cancelled']) assert.ok(run.tools.includes(name), name);
      });

      it('calls a tool', () => {
        assert.equal(report.handshake[version].echo, `hello ${version}`);
      });

      it('delivers progress to progress_callback in order, before the result', () => {
        const run = report.handshake[version];
        assert.equal(run.progressResult, 3);
        assert.deepEqual(run.progress, [[1, 3, 'step 1'], [2, 3, 'step 2'], [3, 3, 'step 3']]);
      });

      it('delivers logging notifications to logging_callback', () => {
        const run = report.handshake[version];
        assert.equal(run.logResult, `log ${version}`);
        assert.equal(run.logs.length, 1);
        assert.match(run.logs[0], new RegExp(`log ${version}`));
      });

      it('cancels the call on the workspace when the client cancels it', () => {
        assert.deepEqual(report.handshake[version].cancellation, { completed: false, serverSawCancellation: true });
      });
    });
  }

  it('lets a client of the 2026-07-28 revision (mode="auto") fall back to initialize after server/discover', () => {
    assert.deepEqual(report.auto, { protocolVersion: '2025-11-25', handshake: true, echo: 'auto' });
  });

  it('answers a client pinned to 2026-07-28 with a JSON-RPC error instead of serving or hanging', () => {
    assert.equal(report.modernOnly.error.code, -32600);
    assert.match(report.modernOnly.error.message, /2026-07-28/);
  });
});
