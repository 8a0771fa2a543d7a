/**
 * A VMM process (cuju or QEMU, same guest) driven over its serial console on stdio:
 * wait for the guest's ready line, run shell commands, and time each command
 * host-side from writing the line to reading back its end marker. Guest clocks are
 * not trusted under emulation, so this host-side time is the primary figure.
 *
 * Console collection and waiting are test/helpers/console-process.ts (shared with the
 * integration tests); every VM still running when this process exits is killed
 * (SIGKILL), also when the benchmark dies on an exception or a signal.
 */
import { spawn } from 'node:child_process';
import { ConsoleProcess, killOnExit } from '../../src/guest/harness/console-process.js';

export interface CommandRun {
  /** What the command printed (echoed command line removed, CRs dropped). */
  out: string;
  status: number;
  /** Host wall time from writing the command line to reading its end marker. */
  hostMs: number;
}

export class ConsoleVm {
  private readonly console: ConsoleProcess;
  private seq = 0;

  constructor(readonly label: string, command: string, args: readonly string[]) {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    killOnExit(child);
    this.console = new ConsoleProcess(child, label);
  }

  get output(): string { return this.console.output; }
  get stderr(): string { return this.console.stderr; }
  get running(): boolean { return this.console.running; }

  /** Waits for `re` in console output written after offset `from` (ConsoleExitedError if the VMM exits first). */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return this.console.waitFor(re, timeoutMs, from);
  }

  /** Runs one shell command line in the guest's console shell. */
  async run(cmd: string, timeoutMs: number): Promise<CommandRun> {
    const tag = `__IO_${++this.seq}__`;
    const from = this.output.length;
    const t0 = process.hrtime.bigint();
    // printf's arguments are expanded before it runs, so $? is the command's status; the
    // leading newline puts the marker on a line of its own even after output without one.
    // The echoed command line holds the tag too, followed by "$?", not digits.
    this.console.write(`${cmd}; printf '\\n%s %s\\n' ${tag} $?\n`);
    const m = await this.waitFor(new RegExp(`\\n${tag} (\\d+)`), timeoutMs, from);
    const hostMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const text = this.output.slice(from, from + (m.index ?? 0));
    const out = text.split('\n').slice(1).join('\n').replace(/\r/g, '').replace(/\n$/, '');
    return { out, status: Number(m[1]), hostMs };
  }

  /** Like run(), but a non-zero status is an error naming the command and its output. */
  async check0(cmd: string, timeoutMs: number): Promise<CommandRun> {
    const r = await this.run(cmd, timeoutMs);
    if (r.status !== 0) throw new Error(`${this.label}: guest command failed (status ${r.status}): ${cmd}\n${r.out}`);
    return r;
  }

  /**
   * SIGTERM first: both VMMs then exit cleanly (cuju writes its CUJU_PROFILE histogram);
   * SIGKILL when that takes longer than `graceMs`.
   */
  async stop(graceMs = 10_000): Promise<void> {
    const { child, exited } = this.console;
    if (this.running) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await exited;
  }
}
