/**
 * Guest disk throughput: sequential O_DIRECT writes and reads of the raw /dev/vda
 * with busybox dd, 1 MiB blocks. The disk is attached with cache=none, so neither the
 * guest's nor the host's page cache serves the reads: every MiB goes through virtio-blk
 * to the image file. Timed host-side (console round trip, minus that of a no-op line of
 * the same shape) and by the guest's clock.
 */
import type { ConsoleVm } from './console-vm.js';
import { guestTimed } from './guest-clock.js';

export interface Transfer {
  bytes: number;
  /** Host wall time of the command minus consoleMs. */
  hostSeconds: number;
  guestSeconds: number;
  /** Host time of the console round trip of the same line with the command disabled (`: dd ...`). */
  consoleMs: number;
}

export interface DiskResult {
  write: Transfer;
  read: Transfer;
  /** dd /dev/zero -> /dev/null: the guest's own work per MiB (syscalls, zeroing), no device at all. */
  noDevice: Transfer;
}

export async function measureDisk(vm: ConsoleVm, mib: number, timeoutMs: number): Promise<DiskResult> {
  const bytes = mib * 1024 * 1024;
  const transfer = async (command: string): Promise<Transfer> => {
    // The same line with the command disabled (`: dd ...`): same characters echoed, same
    // built-ins run, no dd: what the console round trip alone costs. Before and after,
    // taking the smaller, so a stray delay in one of them does not inflate the figure.
    const consoleBefore = (await timedInGuest(vm, `: ${command}`, timeoutMs)).hostMs;
    const t = await timedInGuest(vm, command, timeoutMs);
    const consoleMs = Math.min(consoleBefore, (await timedInGuest(vm, `: ${command}`, timeoutMs)).hostMs);
    return { bytes, hostSeconds: Math.max(t.hostMs - consoleMs, 0) / 1000, guestSeconds: t.guestSeconds, consoleMs };
  };
  const write = await transfer(`dd if=/dev/zero of=/dev/vda bs=1M count=${mib} oflag=direct`);
  const read = await transfer(`dd if=/dev/vda of=/dev/null bs=1M count=${mib} iflag=direct`);
  const noDevice = await transfer(`dd if=/dev/zero of=/dev/null bs=1M count=${mib}`);
  return { write, read, noDevice };
}

async function timedInGuest(vm: ConsoleVm, command: string, timeoutMs: number): Promise<{ hostMs: number; guestSeconds: number }> {
  const timed = guestTimed(command);
  const r = await vm.run(timed.line, timeoutMs);
  const g = timed.parse(r.out);
  if (!g) throw new Error(`${vm.label}: no guest-clock line after '${command}':\n${r.out}`);
  if (g.status !== 0) throw new Error(`${vm.label}: '${command}' failed in the guest (status ${g.status}):\n${r.out}`);
  return { hostMs: r.hostMs, guestSeconds: g.seconds };
}
