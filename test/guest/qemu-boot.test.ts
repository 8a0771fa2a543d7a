/**
 * End-to-end check of the built guest (guest/out) under QEMU's TCG: the kernel boots
 * the initramfs, /init prints its marker, the busybox shell runs commands, and
 * `poweroff` ends the machine through the cuju.power port. QEMU's isa-debug-exit
 * device stands in for the VMM's power port (a write of 1 makes QEMU exit with 3).
 *
 * This separates kernel/initramfs problems from VMM problems. Skipped when QEMU or
 * the outputs of `npm run guest` are missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { guestPaths } from '../../src/guest/paths.js';

const QEMU = 'qemu-system-x86_64';
const out = guestPaths().outDir;
const bzImage = join(out, 'bzImage');
const initramfs = join(out, 'initramfs.cpio');
// Not 0x600: QEMU's pc machine has its ACPI PM block there.
const POWER_PORT = 0xf4;

const skip =
  spawnSync(QEMU, ['--version']).status !== 0
    ? `${QEMU} not installed`
    : !existsSync(bzImage) || !existsSync(initramfs)
      ? 'guest not built (npm run guest)'
      : false;

test('guest boots to a busybox shell under QEMU TCG and powers off via cuju.power', { skip, timeout: 120_000 }, async () => {
  const qemu = spawn(
    QEMU,
    [
      '-M', 'pc', '-accel', 'tcg', '-m', '128', '-smp', '1',
      '-kernel', bzImage, '-initrd', initramfs,
      '-append', `console=ttyS0 cuju.power=0x${POWER_PORT.toString(16)},5 reboot=t panic=-1`,
      '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-device', `isa-debug-exit,iobase=0x${POWER_PORT.toString(16)},iosize=1`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let console = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  qemu.stdout.on('data', (chunk: Buffer) => {
    console += chunk.toString('latin1');
    for (const w of [...waiters]) {
      if (w.pattern.test(console)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => qemu.on('close', (code) => resolve(code)));
  const waitFor = (pattern: RegExp, what: string, ms = 60_000): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pattern.test(console)) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; console so far:\n${console.slice(-3000)}`)), ms);
      waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
    });
  const send = (line: string): void => {
    qemu.stdin.write(`${line}\n`);
  };

  try {
    await waitFor(/cuju-guest: ready/, 'the /init marker');
    await waitFor(/cuju# /, 'the shell prompt');
    send('echo hi-$((6*7))');
    await waitFor(/hi-42/, 'echo output');
    send('ls /; echo ls-done');
    await waitFor(/proc[\s\S]*ls-done/, 'ls output');
    send('grep -c ^processor /proc/cpuinfo; echo cpuinfo-done');
    await waitFor(/\n1\r?\n[\s\S]*cpuinfo-done/, '/proc/cpuinfo');
    send('poweroff');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 60_000)));
    const code = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    // isa-debug-exit: exit status = (value << 1) | 1; cuju_power writes 1.
    assert.equal(code, 3, `QEMU should exit through the power port; console:\n${console.slice(-3000)}`);
    assert.match(console, /cuju-power: poweroff port 0xf4, power button IRQ 5/);
  } finally {
    qemu.kill('SIGKILL');
  }
});
