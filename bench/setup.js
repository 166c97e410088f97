// Installs the peers the benchmarks compare with, pinned, into bench/ only:
// undici, supergateway, mcp-hub and eventsource-parser into
// bench/node_modules (`npm ci` from bench/package.json and its lockfile,
// so transitive versions are pinned too), and a venv at bench/.peers/venv
// with uvicorn + httptools + uvloop for the bare echo server and mcp-proxy
// (bench/requirements.lock, every package pinned). The root package.json
// and the hub's .venv are left alone. Node built-ins only; reruns are no-ops.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const bareVenv = path.join(benchDir, '.peers', 'venv');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with status ${result.status}`);
}

function digest(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export function setupPeers({ python = 'python3' } = {}) {
  const manifests = [path.join(benchDir, 'package.json'), path.join(benchDir, 'package-lock.json')];
  const npmStamp = path.join(benchDir, 'node_modules', '.bench-stamp');
  const npmDigest = manifests.map(digest).join(' ');
  if (!existsSync(npmStamp) || readFileSync(npmStamp, 'utf8') !== npmDigest) {
    console.error('bench setup: installing npm peers into bench/node_modules');
    run(npm, ['ci', '--no-audit', '--no-fund', '--silent'], { cwd: benchDir });
    writeFileSync(npmStamp, npmDigest);
  }

  const requirements = path.join(benchDir, 'requirements.lock');
  const venvPython = path.join(bareVenv, 'bin', 'python');
  const pyStamp = path.join(bareVenv, '.bench-stamp');
  if (!existsSync(pyStamp) || readFileSync(pyStamp, 'utf8') !== digest(requirements)) {
    if (!existsSync(venvPython)) {
      console.error('bench setup: creating bench/.peers/venv');
      run(python, ['-m', 'venv', bareVenv]);
    }
    console.error('bench setup: installing bench/requirements.lock');
    run(venvPython, ['-m', 'pip', '--disable-pip-version-check', '--no-input', 'install', '--quiet', '-r', requirements]);
    writeFileSync(pyStamp, digest(requirements));
  }
  return { barepython: venvPython };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  setupPeers();
  console.error('bench setup: done');
}
