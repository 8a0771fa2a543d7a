/**
 * Someone else's initramfs boots with our kernel and a plain command line: a cpio made
 * by the stock `cpio` tool (not our builder) with its own /init, and only
 * `-append "console=ttyS0"`. Whatever the platform needs is the VMM's business; the
 * init powers off with `poweroff -f`, which must end cuju with exit code 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestVm, guestSkipReason, BOOT_TIMEOUT_MS } from '../helpers/guest-vm.js';

const BUSYBOX = '/bin/busybox';
const skip = guestSkipReason() || (!existsSync(BUSYBOX) ? 'needs busybox-static (/bin/busybox)' : false)
  || (!existsSync('/usr/bin/cpio') ? 'needs the cpio tool (apt-get install cpio)' : false);

test('an initramfs of someone else\'s boots with -append "console=ttyS0"', { skip, timeout: BOOT_TIMEOUT_MS + 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-foreign-'));
  const root = join(dir, 'root');
  for (const d of ['bin', 'proc', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  writeFileSync(join(root, 'init'), [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    'echo "foreign-init: running on <$(/bin/busybox uname -m)> with cmdline <$(/bin/busybox cat /proc/cmdline)>"',
    '/bin/busybox poweroff -f',
    '',
  ].join('\n'), { mode: 0o755 });
  const cpio = join(dir, 'other.cpio');
  execFileSync('sh', ['-c', `cd '${root}' && find . | cpio -o -H newc --quiet > '${cpio}'`]);
  const vm = new GuestVm({ initrd: cpio, append: 'console=ttyS0' });
  try {
    // Kernel messages may interleave with the line on the console: match across them.
    const m = await vm.waitFor(/foreign-init: running on <([^>]*)> with cmdline <([^>]*)>/, BOOT_TIMEOUT_MS);
    assert.equal(m[1], 'x86_64', vm.output.slice(-3000));
    assert.match(m[2], /^console=ttyS0\b/, `the user's command line comes first; console:\n${vm.output.slice(-3000)}`);
    assert.equal(await vm.exited, 0, `cuju exit code; stderr:\n${vm.stderr}`);
  } finally {
    await vm.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
