/** Runs a command inside a network namespace (`ip netns exec`) without blocking the event loop. */
import { spawn } from 'node:child_process';

export interface CommandResult {
  /** Exit status, or null when the command was killed (see signal). */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the command (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
}

export function runInNamespace(ns: string, command: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  if (command.length === 0) return Promise.reject(new RangeError('runInNamespace: empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}
