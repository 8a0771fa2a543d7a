/**
 * A VMM child process whose stdout is the guest's serial console: collects what it
 * prints and waits for patterns in it. Shared by the integration tests' GuestVm
 * (guest-vm.ts) and bench:io's ConsoleVm (bench/io/console-vm.ts), which build their
 * own command protocols (markers, timing) on top.
 */
import type { ChildProcess } from 'node:child_process';

/** The process exited while something waited for console output. */
export class ConsoleExitedError extends Error {
  override readonly name = 'ConsoleExitedError';
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills `child` (SIGKILL) if it still runs when this process exits, so no VM outlives a failed test or benchmark. */
export function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.on('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
  }
}

interface Waiter {
  re: RegExp;
  from: number;
  resolve: (m: RegExpMatchArray) => void;
}

export class ConsoleProcess {
  /** Everything the console printed so far (latin1: one char per byte, CRs kept). */
  output = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Waiter[] = [];

  /** `label` names the process in errors ("cuju", "QEMU microvm (tcg)"). The child's stdout and stderr must be pipes. */
  constructor(readonly child: ChildProcess, readonly label: string) {
    child.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString('latin1');
      this.matchWaiters();
    });
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    // Writes after the guest went away must not crash the caller (EPIPE): waitFor reports the exit.
    child.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Types `text` on the console. */
  write(text: string): void {
    this.child.stdin!.write(text);
  }

  /**
   * Waits for `re` in console output written after offset `from`. Rejects after
   * `timeoutMs`, or with ConsoleExitedError when the process exits first; both errors
   * carry the tails of the console and of stderr.
   */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = { re, from, resolve: (m) => finish(() => resolve(m)) };
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        settle();
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${re}; ${this.tails()}`))),
        timeoutMs,
      );
      const m = this.output.slice(from).match(re);
      if (m) {
        waiter.resolve(m);
        return;
      }
      this.waiters.push(waiter);
      void this.exited.then((code) =>
        finish(() => reject(new ConsoleExitedError(`${this.label} exited (${code}) while waiting for ${re}; ${this.tails()}`))),
      );
    });
  }

  private matchWaiters(): void {
    for (const w of [...this.waiters]) {
      const m = this.output.slice(w.from).match(w.re);
      if (m) w.resolve(m);
    }
  }

  private tails(): string {
    return `console tail:\n${this.output.slice(-2000)}\nstderr:\n${this.stderr.slice(-2000)}`;
  }
}
