/** A process's resident memory from /proc/PID/status (kB figures, returned in bytes). */
import { readFileSync } from 'node:fs';

export interface ResidentMemory {
  rss: number;
  anon: number;
  file: number;
  shmem: number;
}

export function parseStatus(status: string): ResidentMemory {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`/proc/PID/status has no ${name} line`);
    return Number(m[1]) * 1024;
  };
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile'), shmem: field('RssShmem') };
}

export function residentMemory(pid: number): ResidentMemory {
  return parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
