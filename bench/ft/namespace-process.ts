/**
 * A command running inside a network namespace (`ip netns exec NS ...`) whose stdout
 * the benchmark watches while it runs (runInNamespace only hands it over at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit } from '../../src/guest/harness/console-process.js';

export class NamespaceProcess {
  stdout = '';
  stderr = '';
  private readonly child: ChildProcess;
  private readonly done: Promise<number | null>;
  private watchers: (() => void)[] = [];

  constructor(ns: string, command: readonly string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
      for (const w of this.watchers) w();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.done = new Promise((resolve) => this.child.on('close', (code) => {
      for (const w of this.watchers) w();
      resolve(code);
    }));
  }

  /** Resolves once stdout matches `re`; rejects on timeout or when the process ended without it. */
  waitFor(re: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (re.test(this.stdout)) return settle(resolve);
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          return settle(() => reject(new Error(`namespace client exited before printing ${re}: ${this.stdout}${this.stderr}`)));
        }
      };
      const timer = setTimeout(() => settle(() => reject(new Error(`namespace client: no ${re} within ${timeoutMs} ms: ${this.stdout}${this.stderr}`))), timeoutMs);
      const settle = (f: () => void) => {
        clearTimeout(timer);
        this.watchers = this.watchers.filter((w) => w !== check);
        f();
      };
      this.watchers.push(check);
      check();
    });
  }

  /** The last stdout line parsed as JSON once the process exits (within timeoutMs, else it is killed). */
  async json<T>(timeoutMs: number): Promise<T> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.done;
    clearTimeout(timer);
    const last = this.stdout.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{')) throw new Error(`namespace client failed (exit ${code}): ${this.stdout.slice(-500)} ${this.stderr.slice(-500)}`);
    return JSON.parse(last) as T;
  }
}
