// Shared helpers of the Node tests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const workspacesDir = path.join(repoDir, 'examples', 'workspaces');

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
