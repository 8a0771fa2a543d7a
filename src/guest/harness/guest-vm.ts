/**
 * Boots the real guest in a real `cuju` process (tests, benchmarks, `npm start`'s demo): serial console
 * on the child's stdio pipes, monitors on unix sockets in a temp folder. Commands run
 * through the serial console and their output is read back up to a unique marker.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsoleProcess, killOnExit } from './console-process.js';
import { shellCommand, shellResult } from './shell-command.js';

/** The repository root (this file runs as dist/src/guest/harness/guest-vm.js). */
export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../../..');
export const KERNEL = join(ROOT, 'guest/out/bzImage');
export const INITRD = join(ROOT, 'guest/out/initramfs.cpio');
export const CUJU = join(ROOT, 'bin/cuju.js');

/**
 * Spawns `cuju ARGS`. The VMM is killed when the test process exits, even if the test
 * timed out or threw before its own clean-up ran, so no VM outlives its test.
 */
export function spawnCuju(args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [CUJU, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  killOnExit(child);
  return child;
}

/**
 * Booting takes ~1.5-3 minutes where the guest kernel is emulated (kvm_pvm), more with
 * -smp 2 (two emulated CPUs share the host's two cores) or a busy machine.
 */
export const BOOT_TIMEOUT_MS = 10 * 60_000;

export interface GuestOptions {
  memoryMiB?: number;
  cpus?: number;
  extraArgs?: string[];
  append?: string;
  kernel?: string;
  initrd?: string;
}

/** cuju's flags for a guest of `opts` with its serial console on stdio, then `monitors`, then the extra flags. */
export function consoleVmArgs(opts: GuestOptions, monitors: readonly string[]): string[] {
  return [
    '-m', String(opts.memoryMiB ?? 128), '-smp', String(opts.cpus ?? 1),
    '-kernel', opts.kernel ?? KERNEL, '-initrd', opts.initrd ?? INITRD,
    '-append', opts.append ?? 'console=ttyS0 quiet',
    '-serial', 'stdio', '-no-reboot',
    ...monitors,
    ...(opts.extraArgs ?? []),
  ];
}

export class GuestVm {
  readonly dir = mkdtempSync(join(tmpdir(), 'cuju-test-'));
  readonly hmpPath = join(this.dir, 'hmp.sock');
  readonly qmpPath = join(this.dir, 'qmp.sock');
  readonly child: ChildProcess;
  private readonly console: ConsoleProcess;
  private seq = 0;

  constructor(opts: GuestOptions = {}) {
    this.child = spawnCuju(consoleVmArgs(opts, ['-monitor', `unix:${this.hmpPath},server,nowait`, '-qmp', `unix:${this.qmpPath},server,nowait`]));
    this.console = new ConsoleProcess(this.child, 'cuju');
  }

  /** Everything the console printed so far. */
  get output(): string { return this.console.output; }
  get stderr(): string { return this.console.stderr; }
  get exited(): Promise<number | null> { return this.console.exited; }

  /** Waits for `re` in console output written after offset `from`. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return this.console.waitFor(re, timeoutMs, from);
  }

  async waitForShell(): Promise<void> {
    await this.waitFor(/cuju-guest: ready/, BOOT_TIMEOUT_MS);
  }

  /** Runs a shell command in the guest; resolves with its output and exit status. */
  async run(cmd: string, timeoutMs = 120_000): Promise<{ out: string; status: number }> {
    const from = this.output.length;
    const c = shellCommand(`${++this.seq}_${process.pid}`, cmd);
    this.console.write(c.line);
    return shellResult(await this.waitFor(c.pattern, timeoutMs, from));
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
