// The MCP endpoint end to end with the official Python `mcp` client
// (python_client.py, the version the hub's venv pins), through a real
// Express server on loopback, against a real lab workspace process.
//
// python_client.py runs initialize, tools/list, tools/call, progress,
// logging and cancellation in both handshake-era revisions (2025-06-18 and
// 2025-11-25), then as clients of the sessionless 2026-07-28 revision:
// `mcp.Client` in `mode="auto"` (which probes server/discover) and pinned to
// 2026-07-28, and `fastmcp.Client`; each must settle on 2026-07-28.
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

  for (const [mode, key] of [['auto', 'auto'], ['2026-07-28', 'modernOnly']]) {
    describe(`mcp.Client(mode="${mode}"), sessionless MCP 2026-07-28`, () => {
      it('negotiates 2026-07-28 without the initialize handshake and lists the workspace tools', () => {
        const run = report[key];
        assert.equal(run.protocolVersion, '2026-07-28');
        assert.equal(run.handshake, false);
        for (const name of ['echo', 'progress', 'sample', 'sleep_started']) assert.ok(run.tools.includes(name), name);
      });

      it("calls tools, the workspace seeing the client's identity", () => {
        assert.equal(report[key].echo, mode);
        assert.equal(report[key].clientName, `python-${mode}`);
      });

      it('delivers progress in order, before the result', () => {
        assert.equal(report[key].progressResult, 3);
        assert.deepEqual(report[key].progress, [[1, 3, 'step 1'], [2, 3, 'step 2'], [3, 3, 'step 3']]);
      });

      it('delivers the logging the requests opt in to', () => {
        assert.equal(report[key].logResult, `log ${mode}`);
        assert.equal(report[key].logs.length, 1);
        assert.match(report[key].logs[0], new RegExp(`log ${mode}`));
      });

      it('calls a tool whose arguments the client mirrors in Mcp-Param-* headers', () => {
        assert.equal(report[key].routed, `zürich/2/${mode}`);
      });

      it("answers the workspace's sampling request through the client's sampling_callback", () => {
        assert.equal(report[key].sample, 'sampled: a haiku');
      });

      it('cancels the call on the workspace when the client cancels it', () => {
        assert.deepEqual(report[key].cancellation, { completed: false, serverSawCancellation: true });
      });

      it('delivers the change notifications a subscriptions/listen stream opted in to, and no others', () => {
        assert.deepEqual(report[key].listen, {
          honored: { toolsListChanged: true, resourceSubscriptions: ['lab://watched'] },
          events: ['tools changed', 'updated lab://watched'],
        });
      });
    });
  }

  it('serves fastmcp.Client, which probes server/discover, at 2026-07-28', () => {
    assert.deepEqual(report.fastmcp, { protocolVersion: '2026-07-28', echo: 'fastmcp' });
  });
});
