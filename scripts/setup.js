// Installs and builds whatever is missing in a checkout: npm packages, the
// Rust addon (release build; cargo skips it when nothing changed) and the
// Python venv `.venv` with the pinned hub dependencies. Node built-ins only.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureHubVenv, ISOLATION_PYTHON, isolationVenvDir } from './lib/python.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    console.error(`setup: ${command} ${args.join(' ')} exited with status ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

function onPath(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

function newer(a, b) {
  return !existsSync(b) || statSync(a).mtimeMs > statSync(b).mtimeMs;
}

// npm packages, at the lockfile's versions. `npm install` rather than
// `npm ci`: npm 11's ci refuses this lockfile because it leaves out
// engine-incompatible optional platform packages of @napi-rs/lzma.
if (newer(path.join(root, 'package-lock.json'), path.join(root, 'node_modules', '.package-lock.json'))) {
  console.error('setup: installing npm packages');
  run(npm, ['install', '--no-audit', '--no-fund']);
}

// The native addon.
run(npm, ['run', '--silent', 'build']);

// The Python venv with the hub.
ensureHubVenv({
  packageDir: root,
  venvDir: path.join(root, '.venv'),
  editable: true,
  extraRequirements: [path.join(root, 'python-fastmcp', 'requirements-dev.lock')],
});

// The isolation tests' venv (tests/isolation.test.js): they run workspaces
// as other users, which needs root, Linux and an interpreter outside any
// private home directory.
// They also sandbox workspaces with bubblewrap, the system's package.
if (process.platform === 'linux' && process.getuid() === 0 && existsSync(ISOLATION_PYTHON)) {
  ensureHubVenv({ packageDir: root, venvDir: isolationVenvDir(), python: ISOLATION_PYTHON });
  if (!onPath('bwrap') && onPath('apt-get')) {
    console.error('setup: installing bubblewrap (apt-get)');
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'bubblewrap']);
  }
}

// System packages that tests drive, installed for them only (`--tests`:
// `npm test`, `npm run screenshots`), as root with apt-get: Chromium for
// the dashboard's browser test (tests/express/dashboard.test.js) and
// `npm run screenshots`; etcd for the cluster tests (tests/cluster.test.js).
// A failed install leaves those tests to say so, and the other suites run.
if (process.argv.includes('--tests') && process.platform === 'linux' && process.getuid() === 0 && onPath('apt-get')) {
  const missing = [
    !process.env.CHROMIUM_PATH && !existsSync('/usr/bin/chromium') && 'chromium',
    !onPath('etcd') && 'etcd-server',
  ].filter(Boolean);
  if (missing.length > 0) {
    console.error(`setup: installing ${missing.join(', ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args) => spawnSync('apt-get', args, { cwd: root, stdio: 'inherit', env }).status === 0;
    if (!apt(['update', '-qq']) || !apt(['install', '-y', '-qq', ...missing])) {
      console.error(`setup: installing ${missing.join(', ')} failed; the tests that drive them will fail (CHROMIUM_PATH names another Chromium)`);
    }
  }
}
