// Runs every test suite: Rust (cargo test), Python (pytest), Node (node --test).
// All suites run even when one fails; the exit status is non-zero if any did.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const venvPython = path.join(root, '.venv', 'bin', 'python');
const env = { ...process.env, FASTMCP_BRIDGE_PYTHON: venvPython };

function testFiles(dir) {
  return readdirSync(path.join(root, dir), { recursive: true })
    .filter((file) => file.endsWith('.test.js'))
    .map((file) => path.join(dir, file))
    .sort();
}

const suites = [
  ['cargo', ['test', '--workspace', '--release', '--all-targets']],
  [venvPython, ['-m', 'pytest', '-q', 'python-fastmcp/tests']],
  [process.execPath, ['--test', '--test-concurrency=1', ...testFiles('tests')]],
];

const failed = [];
for (const [command, args] of suites) {
  console.error(`\n=== ${path.basename(command)} ${args.slice(0, 2).join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  if (result.error || result.status !== 0) failed.push(path.basename(command));
}
if (failed.length > 0) {
  console.error(`\nfailed suites: ${failed.join(', ')}`);
  process.exit(1);
}
