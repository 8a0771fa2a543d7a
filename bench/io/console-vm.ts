/**
 * A VMM process (cuju or QEMU, same guest) driven over its serial console on stdio:
 * wait for the guest's ready line, run shell commands, and time each command
 * host-side from writing the line to reading back its end marker. Guest clocks are
 * not trusted under emulation, so this host-side time is the primary figure.
 *
 * Every VM still running when this process exits is killed (SIGKILL), also when the
 * benchmark dies on an exception or a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export class VmExitedError extends Error {
  override readonly name = 'VmExitedError';
}

export interface CommandRun {
  /** What the command printed (echoed command line removed, CRs dropped). */
  out: string;
  status: number;
  /** Host wall time from writing the command line to reading its end marker. */
  hostMs: number;
}

const live = new Set<ConsoleVm>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const vm of live) vm.child.kill('SIGKILL');
  });
}

export class ConsoleVm {
  readonly child: ChildProcess;
  output = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private seq = 0;
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(readonly label: string, command: string, args: readonly string[]) {
    installExitHook();
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    this.child.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString('latin1');
      this.check();
    });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    // Writes after the guest went away must not crash the benchmark (EPIPE): the exit is reported by waitFor.
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      live.delete(this);
      resolve(code);
    }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      const m = this.output.slice(w.from).match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  }

  /** Waits for `re` in console output written after offset `from`. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${re}; console tail:\n${this.output.slice(-1500)}\nstderr:\n${this.stderr.slice(-1500)}`)), timeoutMs);
      const done = (m: RegExpMatchArray) => { clearTimeout(timer); resolve(m); };
      const m = this.output.slice(from).match(re);
      if (m) done(m);
      else this.waiters.push({ re, from, resolve: done });
      this.exited.then((code) => {
        clearTimeout(timer);
        reject(new VmExitedError(`${this.label} exited (${code}) while waiting for ${re}; stderr:\n${this.stderr.slice(-1500)}\nconsole tail:\n${this.output.slice(-1500)}`));
      });
    });
  }

  /** Runs one shell command line in the guest's console shell. */
  async run(cmd: string, timeoutMs: number): Promise<CommandRun> {
    const tag = `__IO_${++this.seq}__`;
    const from = this.output.length;
    const t0 = process.hrtime.bigint();
    // printf's arguments are expanded before it runs, so $? is the command's status; the
    // leading newline puts the marker on a line of its own even after output without one.
    // The echoed command line holds the tag too, followed by "$?", not digits.
    this.child.stdin!.write(`${cmd}; printf '\\n%s %s\\n' ${tag} $?\n`);
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
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}
