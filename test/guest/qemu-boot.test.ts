/**
 * End-to-end check of the built guest (guest/out) under QEMU's TCG: the kernel boots
 * the initramfs, /init prints its marker, the busybox shell runs commands, and
 * `poweroff` ends the machine through the cuju.power port. Skipped when QEMU or the
 * outputs of `npm run guest` are missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POWER_PORT, POWERED_OFF, QemuGuest, qemuSkipReason } from './qemu-guest.js';

test('guest boots to a busybox shell under QEMU TCG and powers off via cuju.power', { skip: qemuSkipReason, timeout: 120_000 }, async () => {
  const guest = new QemuGuest({ machine: ['-M', 'pc'] });
  try {
    await guest.waitFor(/cuju-guest: ready/, 'the /init marker');
    await guest.waitFor(/cuju# /, 'the shell prompt');
    // No disk: /init says nothing about one. No ip=: /init brought lo up itself.
    assert.doesNotMatch(guest.output(), /\/dev\/vda/);
    guest.send('echo hi-$((6*7))');
    await guest.waitFor(/hi-42/, 'echo output');
    guest.send('ls /; echo ls-done');
    await guest.waitFor(/proc[\s\S]*ls-done/, 'ls output');
    guest.send('grep -c ^processor /proc/cpuinfo; echo cpuinfo-done');
    await guest.waitFor(/\n1\r?\n[\s\S]*cpuinfo-done/, '/proc/cpuinfo');
    guest.send('ip -o addr show dev lo; echo lo-done');
    await guest.waitFor(/lo\s+inet 127\.0\.0\.1\/8[\s\S]*lo-done/, 'lo up with 127.0.0.1');
    const code = await guest.powerOff();
    assert.equal(code, POWERED_OFF, `QEMU should exit through the power port; console:\n${guest.tail()}`);
    assert.match(guest.output(), new RegExp(`cuju-power: poweroff port 0x${POWER_PORT.toString(16)}, power button IRQ 5`));
  } finally {
    guest.kill();
  }
});
