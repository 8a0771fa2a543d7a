/**
 * CPU time of a VMM process from /proc/PID/task/TID/stat, split into its vCPU threads
 * (named "cuju-vcpu" by the native addon: guest time) and everything else (the main
 * thread's event loop, the fd watcher, libuv's pool: the VMM's own work). Between two
 * readings this says how much of a core protection costs the VMM, next to the guest.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (USER_HZ; 100 on Linux x86-64). */
const TICKS_PER_SECOND = 100;

export interface CpuTimes {
  /** Seconds of CPU used by the vCPU threads. */
  vcpu: number;
  /** Seconds of CPU used by every other thread. */
  vmm: number;
}

/** utime + stime (ticks) and the thread name out of one /proc/.../stat line. */
export function parseThreadStat(line: string): { name: string; ticks: number } {
  // comm is in parentheses and may hold spaces or ')': the fields follow the LAST ')'.
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${JSON.stringify(line.slice(0, 80))}`);
  const rest = line.slice(close + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  return { name: line.slice(open + 1, close), ticks: Number(rest[11]) + Number(rest[12]) };
}

export function cpuTimes(pid: number): CpuTimes {
  const out: CpuTimes = { vcpu: 0, vmm: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let line: string;
    try {
      line = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const t = parseThreadStat(line);
    if (t.name.startsWith('cuju-vcpu')) out.vcpu += t.ticks / TICKS_PER_SECOND;
    else out.vmm += t.ticks / TICKS_PER_SECOND;
  }
  return out;
}

/** Share of one core each part used between two readings taken `seconds` apart. */
export function coreShare(before: CpuTimes, after: CpuTimes, seconds: number): CpuTimes {
  return { vcpu: (after.vcpu - before.vcpu) / seconds, vmm: (after.vmm - before.vmm) / seconds };
}
