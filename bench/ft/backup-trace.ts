/**
 * A diagnostic preload for the backup (`node --import <this file's URL>`, set by
 * bench:ft), like pause-trace.ts for the primary: prints on stderr, with wall-clock
 * times,
 *
 *   cuju-ft-commit <wall ms> e=<epoch> us=<µs to apply and acknowledge it>
 *   cuju-ft-lost <wall ms>                  the receive loop ended: the primary is gone
 *   cuju-ft-takeover <wall ms> us=<µs>      takeOver() done (state put into the machine)
 *   cuju-ft-mem <wall ms> rss= heap= used= ext= ab= new= ram=   every 250 ms: process.memoryUsage(),
 *                                           V8's new-space size and guest RAM resident (mincore;
 *                                           known once protection runs), bytes (backup-memory.ts)
 *
 * Commit lines go out in batches every 200 ms, the failover lines at once. It wraps
 * methods that are private in TypeScript (FtBackup.commit); if one is renamed, a
 * `cuju-ft-trace-missing` line says so.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { FtBackup } from '../../src/ft/backup.js';
import { native } from '../../src/kvm/native.js';
import type { GuestMemory } from '../../src/memory/guest-memory.js';

type AnyFn = (...args: any[]) => any;

const wall = () => (performance.timeOrigin + performance.now()).toFixed(3);
const lines: string[] = [];
const flush = () => {
  if (lines.length === 0) return;
  process.stderr.write(lines.join('\n') + '\n');
  lines.length = 0;
};

function wrap(name: string, make: (original: AnyFn) => AnyFn): void {
  const p = FtBackup.prototype as unknown as Record<string, AnyFn>;
  if (typeof p[name] !== 'function') {
    lines.push(`cuju-ft-trace-missing FtBackup.${name}`);
    return;
  }
  p[name] = make(p[name]);
}

/** The backup's guest RAM mapping, taken when run() starts (FtBackup.target is private). */
let ram: ArrayBuffer | undefined;

wrap('commit', (original) => async function (this: unknown, e: { epoch: number }) {
  const t0 = performance.now();
  await original.call(this, e);
  lines.push(`cuju-ft-commit ${wall()} e=${e.epoch} us=${Math.round((performance.now() - t0) * 1000)}`);
});

wrap('run', (original) => async function (this: unknown, ...args: unknown[]) {
  const memory = (this as { target?: { memory?: GuestMemory } }).target?.memory;
  if (memory) ram = memory.view(0, memory.size).buffer as ArrayBuffer;
  const outcome = await original.apply(this, args);
  lines.push(`cuju-ft-lost ${wall()}`);
  flush();
  return outcome;
});

wrap('takeOver', (original) => async function (this: unknown, ...args: unknown[]) {
  const t0 = performance.now();
  const epoch = await original.apply(this, args);
  lines.push(`cuju-ft-takeover ${wall()} us=${Math.round((performance.now() - t0) * 1000)}`);
  flush();
  return epoch;
});

setInterval(flush, 200).unref();

setInterval(() => {
  const m = process.memoryUsage();
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  lines.push(`cuju-ft-mem ${wall()} rss=${m.rss} heap=${m.heapTotal} used=${m.heapUsed} ext=${m.external} ab=${m.arrayBuffers} new=${newSpace} ram=${ram ? native().residentBytes(ram) : -1}`);
}, 250).unref();
