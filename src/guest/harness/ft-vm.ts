/**
 * One VMM of a fault-tolerant pair in the failure tests: GuestVm's console protocol
 * (commands typed on the serial console, output read back up to a marker), but the
 * process may run inside a network namespace (`ip netns exec NS node cuju ...`, which
 * execs, so the child's pid is cuju's own and `kill -9` hits the VMM), so the test can
 * cut or slow its links. Monitors on unix sockets in a temp folder (sockets work across
 * network namespaces).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleProcess, killOnExit } from './console-process.js';
import { CUJU, consoleVmArgs, type GuestOptions } from './guest-vm.js';
import { hmp } from '../../monitor/client/hmp-command.js';
import { shellCommand, shellResult } from './shell-command.js';

export interface FtVmOptions extends GuestOptions {
  /** Names the VM in errors and reports ('primary', 'backup'). */
  label: string;
  /** Run the VMM inside this network namespace. */
  netns?: string;
}

export class FtVm {
  readonly dir = mkdtempSync(join(tmpdir(), 'cuju-ftvm-'));
  readonly hmpPath = join(this.dir, 'hmp.sock');
  readonly child: ChildProcess;
  readonly label: string;
  private readonly console: ConsoleProcess;
  private seq = 0;

  constructor(opts: FtVmOptions) {
    this.label = opts.label;
    const argv = [process.execPath, CUJU, ...consoleVmArgs(opts, ['-monitor', `unix:${this.hmpPath},server,nowait`])];
    this.child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    killOnExit(this.child);
    this.console = new ConsoleProcess(this.child, `cuju (${opts.label})`);
  }

  get output(): string { return this.console.output; }
  get stderr(): string { return this.console.stderr; }
  get exited(): Promise<number | null> { return this.console.exited; }
  get running(): boolean { return this.console.running; }
  get pid(): number { return this.child.pid!; }

  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return this.console.waitFor(re, timeoutMs, from);
  }

  /** Waits until stderr matches `re` (the VMM's own log lines). */
  async waitForLog(re: RegExp, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!re.test(this.stderr)) {
      if (!this.running) throw new Error(`${this.label} exited while waiting for ${re} in its log:\n${this.stderr.slice(-2000)}`);
      if (performance.now() > deadline) throw new Error(`${this.label}: no ${re} in its log within ${timeoutMs} ms:\n${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs a shell command in the guest (see GuestVm.run). */
  async run(cmd: string, timeoutMs = 120_000): Promise<{ out: string; status: number }> {
    const from = this.output.length;
    const c = shellCommand(`${++this.seq}_${process.pid}`, cmd);
    this.console.write(c.line);
    return shellResult(await this.waitFor(c.pattern, timeoutMs, from));
  }

  /** An HMP command's output, or the error that stopped it (a dead or stopped VMM). */
  async hmp(command: string, timeoutMs = 30_000): Promise<string> {
    return hmp(this.hmpPath, command, timeoutMs);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  async kill(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGCONT'); // a stopped process dies of SIGKILL too, but let its exit be reaped promptly
      this.child.kill('SIGKILL');
    }
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
