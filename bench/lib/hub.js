// Starting a hub process the way the Bridge does (`<python> -m
// fastmcp_workspace --dir D --port 0`, stdin piped, ready line on stdout),
// and reading a process's CPU time from /proc.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import readline from 'node:readline';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Spawns a hub and resolves once it prints its ready line.
 * @returns {Promise<{ url: string, pid: number, stop: () => Promise<void> }>}
 */
export function startHub(python, dir, { timeoutMs = 30_000 } = {}) {
  const child = spawn(python, ['-m', 'fastmcp_workspace', '--dir', dir, '--port', '0'], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.stdin.end();
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`hub: no ready line within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`hub exited with status ${code} before its ready line`)));
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      try {
        const ready = JSON.parse(line);
        if (ready.event === 'ready') {
          clearTimeout(timer);
          resolve({ url: ready.url, pid: child.pid, stop });
        }
      } catch {
        // not the ready line
      }
    });
  });
}

/** User + system CPU time of process `pid`, in ms (10 ms resolution). */
export function processCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** Pids of this process's direct children (from every thread that forked). */
export function childPids() {
  const pids = [];
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const text = readFileSync(`/proc/self/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread exited meanwhile
    }
  }
  return pids;
}
