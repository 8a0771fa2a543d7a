/**
 * -daemonize and -pidfile, QEMU's way: the command returns once the VM is up and
 * running in the background, or fails with the same one-line error a foreground
 * start would print. Node cannot fork, so the parent re-runs itself detached with
 * CUJU_DAEMON_CHILD set and waits for one status line on a pipe (fd 3).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';

const CHILD_ENV = 'CUJU_DAEMON_CHILD';
const STATUS_FD = 3;

export function isDaemonChild(): boolean {
  return process.env[CHILD_ENV] === '1';
}

/** In the parent: start the detached child and mirror its start-up outcome. */
export function runDaemonParent(argv: string[]): Promise<never> {
  const devNull = openSync('/dev/null', 'r+');
  const child = spawn(process.execPath, [process.argv[1], ...argv], {
    detached: true,
    stdio: [devNull, devNull, devNull, 'pipe'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  closeSync(devNull);
  return new Promise(() => {
    let status = '';
    const pipe = child.stdio[STATUS_FD] as NodeJS.ReadableStream;
    pipe.on('data', (d: Buffer) => { status += d.toString(); });
    pipe.on('end', () => {
      if (status.startsWith('ok')) {
        child.unref();
        process.exit(0);
      }
      process.stderr.write(status.replace(/^error /, '') || 'cuju: the daemon exited during start-up\n');
      process.exit(1);
    });
  });
}

/** In the child: report the start-up outcome to the waiting parent. */
export function reportToParent(outcome: { ok: true } | { ok: false; line: string }): void {
  if (!isDaemonChild()) return;
  try {
    writeSync(STATUS_FD, outcome.ok ? 'ok\n' : `error ${outcome.line}\n`);
    closeSync(STATUS_FD);
  } catch {
    // The parent is gone; nothing to tell.
  }
}

export function writePidfile(path: string): void {
  writeFileSync(path, `${process.pid}\n`);
}
