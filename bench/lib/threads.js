// CPU time of a process's threads, read from /proc/<pid>/task/<tid>/stat.
import { readFileSync, readdirSync } from 'node:fs';

/** USER_HZ: /proc reports CPU time in 1/100 s. */
const TICK_MS = 1000 / 100;

/**
 * CPU ms (user + system) of each thread of `pid`, summed by
 * `group(pid, tid, name)` (`name`: the thread's name, at most 15 bytes).
 * @param {number} pid
 * @param {(pid: number, tid: number, name: string) => string} group
 * @returns {Record<string, number>}
 */
export function threadCpu(pid, group) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const key = group(pid, Number(tid), name);
    out[key] = (out[key] ?? 0) + (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  }
  return out;
}
