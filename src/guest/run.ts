/**
 * Running the external tools the guest builder drives (dpkg, apt-get, tar, patch,
 * make). Failures become CommandFailedError naming the command and showing the end
 * of its output.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { CommandFailedError } from './errors.js';

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Bytes written to the command's stdin. */
  readonly input?: string | Buffer;
  /** Append stdout+stderr to this file instead of keeping them in memory. */
  readonly logFile?: string;
  /** Exit codes that do not count as failure (default: only 0). */
  readonly okExitCodes?: readonly number[];
}

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const TAIL_CHARS = 3000;

export function describeCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ');
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const ok = options.okExitCodes ?? [0];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    let stdout = '';
    let stderr = '';
    // Keep only a tail of logged output in memory: a kernel build prints megabytes.
    const keep = (acc: string, chunk: Buffer): string => {
      const next = acc + chunk.toString('utf8');
      return log && next.length > TAIL_CHARS * 2 ? next.slice(-TAIL_CHARS) : next;
    };
    child.stdout.on('data', (chunk: Buffer) => {
      log?.write(chunk);
      stdout = keep(stdout, chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      log?.write(chunk);
      stderr = keep(stderr, chunk);
    });
    child.stdin.on('error', () => {
      /* the command may exit without reading its input; its exit code tells */
    });
    child.stdin.end(options.input ?? '');
    child.on('error', (err) => {
      log?.end();
      reject(new CommandFailedError(`cannot run ${command}: ${err.message}. Is it installed and on PATH?`));
    });
    child.on('close', (code, signal) => {
      const finish = (): void => {
        const exitCode = code ?? -1;
        if (ok.includes(exitCode)) {
          resolvePromise({ exitCode, stdout, stderr });
          return;
        }
        const how = signal ? `was killed by ${signal}` : `exited with status ${exitCode}`;
        const where = options.logFile ? ` (full output: ${options.logFile})` : '';
        const tail = (stderr.trim() || stdout.trim()).slice(-TAIL_CHARS);
        reject(new CommandFailedError(`${describeCommand(command, args)} ${how}${where}\n${tail}`));
      };
      if (log) log.end(finish);
      else finish();
    });
  });
}
