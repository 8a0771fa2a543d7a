/**
 * Runs the built guest (guest/out) under QEMU's TCG for the guest tests: spawns
 * QEMU with the serial console on stdio, lets a test wait for console output and
 * type shell commands. This separates kernel/initramfs problems from VMM problems.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { guestPaths } from '../../src/guest/paths.js';

export const QEMU = 'qemu-system-x86_64';
const out = guestPaths().outDir;
export const bzImage = join(out, 'bzImage');
export const initramfs = join(out, 'initramfs.cpio');
/**
 * cuju.power's port under QEMU, where QEMU's isa-debug-exit device stands in for the
 * VMM's power port (a write of 1 makes QEMU exit with status 3). Not 0x600: QEMU's
 * pc machine has its ACPI PM block there.
 */
export const POWER_PORT = 0xf4;
/** QEMU's exit status after cuju_power wrote 1 to isa-debug-exit: (value << 1) | 1. */
export const POWERED_OFF = 3;

/** Why the QEMU guest tests cannot run here, or false. */
export const qemuSkipReason: string | false =
  spawnSync(QEMU, ['--version']).status !== 0
    ? `${QEMU} not installed`
    : !existsSync(bzImage) || !existsSync(initramfs)
      ? 'guest not built (npm run guest)'
      : false;

export interface QemuGuestOptions {
  /** e.g. ['-M', 'pc'] or ['-M', 'microvm,acpi=off']. */
  readonly machine: readonly string[];
  /** Appended after the console and power-port parameters. */
  readonly append?: string;
  /** Device and back-end arguments (-drive, -device, -netdev). */
  readonly extraArgs?: readonly string[];
}

export class QemuGuest {
  readonly process: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  private console = '';
  private readonly waiters: { pattern: RegExp; resolve: () => void }[] = [];

  constructor(options: QemuGuestOptions) {
    const port = `0x${POWER_PORT.toString(16)}`;
    const append = [`console=ttyS0 cuju.power=${port},5 reboot=t panic=-1`, options.append].filter(Boolean).join(' ');
    this.process = spawn(QEMU, [
      ...options.machine, '-accel', 'tcg', '-m', '128', '-smp', '1',
      '-kernel', bzImage, '-initrd', initramfs, '-append', append,
      '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-device', `isa-debug-exit,iobase=${port},iosize=1`,
      ...(options.extraArgs ?? []),
    ]);
    this.exited = new Promise((resolve) => this.process.on('close', (code) => resolve(code)));
    this.process.stdout.on('data', (chunk: Buffer) => {
      this.console += chunk.toString('latin1');
      for (const w of [...this.waiters]) {
        if (w.pattern.test(this.console)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    this.process.stderr.on('data', (chunk: Buffer) => {
      this.console += `[qemu stderr] ${chunk.toString('latin1')}`;
    });
  }

  /** Console output so far (the tail, for assertion messages). */
  tail(chars = 3000): string {
    return this.console.slice(-chars);
  }

  output(): string {
    return this.console;
  }

  waitFor(pattern: RegExp, what: string, ms = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (pattern.test(this.console)) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; console so far:\n${this.tail()}`)), ms);
      this.waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Types a line into the guest's serial shell. */
  send(line: string): void {
    this.process.stdin.write(`${line}\n`);
  }

  /** Sends `poweroff` and resolves with QEMU's exit status, or 'timeout'. */
  async powerOff(ms = 60_000): Promise<number | null | 'timeout'> {
    this.send('poweroff');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }
}
