// Creates or refreshes a Python venv holding the workspace hub
// (python-fastmcp/) and its pinned dependencies. Node built-ins only: this
// runs before `npm install` on a fresh clone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const STAMP = '.fastmcp-bridge-stamp';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with status ${result.status}`);
}

/** Every file under `dir` but bytecode caches, in a stable order. */
function sourceFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.parentPath.includes('__pycache__'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/**
 * The venv of the isolation tests: made by the system's interpreter
 * (`/usr/bin/python3`) in the system's temporary directory, with the hub
 * copied in, so that a workspace running as a user of its own can read
 * every file of its interpreter and packages (a venv's interpreter under a
 * private home directory could not be run by that user).
 */
export const ISOLATION_PYTHON = '/usr/bin/python3';
export const isolationVenvDir = () => path.join(os.tmpdir(), 'fastmcp-bridge-isolation-venv');

/**
 * Makes `venvDir` a venv with the hub installed, reinstalling only when the
 * pinned requirements or the hub's sources changed since the last run.
 *
 * @param {object} options
 * @param {string} options.packageDir directory holding `python-fastmcp/`
 * @param {string} options.venvDir venv to create or refresh
 * @param {boolean} [options.editable] install the hub editable (development)
 * @param {string[]} [options.extraRequirements] more pinned requirement files
 * @param {string} [options.python] interpreter that creates the venv; default `python3`
 * @returns {string} the venv's python executable
 */
export function ensureHubVenv({ packageDir, venvDir, editable = false, extraRequirements = [], python = 'python3' }) {
  const hubDir = path.join(packageDir, 'python-fastmcp');
  const requirements = [path.join(hubDir, 'requirements.lock'), ...extraRequirements];
  const inputs = [...requirements, path.join(hubDir, 'pyproject.toml')];
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ editable }));
  // A copy (not editable) is stale once the hub's sources change.
  if (!editable) inputs.push(...sourceFiles(path.join(hubDir, 'src')));
  for (const file of inputs) hash.update(readFileSync(file));
  const digest = hash.digest('hex');
  const venvPython = path.join(venvDir, 'bin', 'python');
  const stampFile = path.join(venvDir, STAMP);
  if (existsSync(venvPython) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === digest) {
    return venvPython;
  }
  if (!existsSync(venvPython)) {
    console.error(`setup: creating Python venv ${venvDir}`);
    run(python, ['-m', 'venv', venvDir]);
  }
  const pip = [venvPython, '-m', 'pip', '--disable-pip-version-check', '--no-input', 'install', '--quiet'];
  run(pip[0], [...pip.slice(1), ...requirements.flatMap((file) => ['-r', file])]);
  run(pip[0], [...pip.slice(1), '--no-deps', ...(editable ? ['-e', hubDir] : [hubDir])]);
  writeFileSync(stampFile, digest);
  return venvPython;
}
