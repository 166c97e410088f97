// The npm package as a user gets it: npm pack (with the built addon), the
// tarball installed into a new Express app in a temporary directory, the
// shipped Python setup, a real workspace reached with the official MCP
// client, and the dashboard's page and browser libraries served from the
// installed packages.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { repoDir, workspacesDir } from './helpers.js';

const APP = `
import express from 'express';
import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter } from 'fastmcp-bridge/express';

const bridge = new Bridge({ workspaces: { alpha: { dir: process.argv[2] } } });
const app = express();
app.use('/api', bridgeRouter(bridge, { dashboard: true }));
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.stdin.on('end', async () => {
  server.close();
  await bridge.close();
  process.exit(0);
});
process.stdin.resume();
`;

function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

describe('the packed package in a separate Express app', { timeout: 600_000 }, () => {
  let dir;
  let app;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fastmcp-bridge-pack-'));
  });

  after(() => {
    app?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('ships the addon, the router and the Python hub', () => {
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], repoDir));
    const files = packed.files.map((f) => f.path);
    for (const expected of [
      'index.js',
      'index.d.ts',
      'errors.json',
      'tracing.js',
      'cluster.js',
      'protocol.json',
      'express-bridge/index.js',
      'express-bridge/dashboard.js',
      'express-bridge/dashboard/index.html',
      'express-bridge/dashboard/app.js',
      'express-bridge/dashboard/mcp-client.js',
      'express-bridge/dashboard/charts.js',
      'express-bridge/dashboard/style.css',
      'python-fastmcp/requirements.lock',
      'python-fastmcp/src/fastmcp_workspace/__main__.py',
      'scripts/setup-python.js',
    ]) {
      assert.ok(files.includes(expected), `${expected} is not in the tarball`);
    }
    assert.ok(files.some((f) => /^fastmcp-bridge\.[\w-]+\.node$/.test(f)), 'no native addon in the tarball');
    assert.ok(!files.some((f) => f.startsWith('tests/') || f.startsWith('crates/')), 'sources leaked into the tarball');

    const expressVersion = JSON.parse(readFileSync(path.join(repoDir, 'node_modules/express/package.json'), 'utf8')).version;
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
    writeFileSync(path.join(dir, 'app.js'), APP);
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed.filename), `express@${expressVersion}`], dir);
    // The Python side, as a user sets it up: a venv inside the installed package.
    execFileSync('npx', ['--no-install', 'fastmcp-bridge-setup-python'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  });

  it('serves a workspace call through the installed router', async () => {
    const env = { ...process.env };
    delete env.FASTMCP_BRIDGE_PYTHON; // the installed package finds its own venv
    app = spawn(process.execPath, ['app.js', path.join(workspacesDir, 'alpha')], {
      cwd: dir,
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const [line] = await createInterface({ input: app.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value]);
    const { port } = JSON.parse(line);
    const client = new Client({ name: 'pack-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/api/workspaces/alpha/mcp`)));
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'from a packed install' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'from a packed install' }]);
    } finally {
      await client.close();
    }
    // The dashboard's libraries come from the app's node_modules, where npm put fastmcp-bridge's dependencies.
    const page = await fetch(`http://127.0.0.1:${port}/api/dashboard/`);
    assert.equal(page.status, 200);
    assert.ok(page.headers.get('content-security-policy'));
    for (const [name, marker] of [
      ['app.js', 'McpClient'],
      ['vendor/preact-htm.js', 'useState'],
      ['vendor/uPlot.esm.js', 'export { uPlot as default }'],
      ['vendor/uPlot.min.css', '.uplot'],
      ['vendor/eventsource-parser/index.js', 'createParser'],
      ['vendor/eventsource-parser/stream.js', 'EventSourceParserStream'],
    ]) {
      const asset = await fetch(`http://127.0.0.1:${port}/api/dashboard/${name}`);
      assert.equal(asset.status, 200, name);
      assert.match(asset.headers.get('content-type'), name.endsWith('.css') ? /^text\/css/ : /javascript/, name);
      assert.ok((await asset.text()).includes(marker), `${name} does not hold ${marker}`);
    }
    app.stdin.end();
    const code = await new Promise((resolve) => app.once('exit', resolve));
    assert.equal(code, 0);
  });
});
