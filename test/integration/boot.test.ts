/**
 * Boots the real guest kernel and busybox user space in a real cuju process,
 * runs commands through the serial console, and reboots from inside the guest
 * (with -no-reboot, as QEMU, that ends the VMM with exit code 0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestVm, guestSkipReason, BOOT_TIMEOUT_MS } from '../helpers/guest-vm.js';

const skip = guestSkipReason();

test('guest boots to a shell, runs commands, and `reboot -f` under -no-reboot ends cuju with 0', { skip, timeout: BOOT_TIMEOUT_MS + 120_000 }, async () => {
  const vm = new GuestVm({ memoryMiB: 128 });
  try {
    await vm.waitForShell();
    const uname = await vm.run('uname -sr');
    assert.equal(uname.status, 0);
    assert.match(uname.out, /Linux 6\.1\./);
    const ls = await vm.run('ls /');
    assert.match(ls.out, /proc/);
    const mem = await vm.run('grep MemTotal /proc/meminfo');
    const kb = Number(/MemTotal:\s+(\d+)/.exec(mem.out)?.[1]);
    assert.ok(kb > 90_000 && kb <= 131_072, `MemTotal ${kb} kB for -m 128`);
    const fail = await vm.run('false');
    assert.equal(fail.status, 1, 'exit status travels back');
    // User space does real work: fork/exec/pipes through the kvm_pvm syscall path.
    const pipe = await vm.run('seq 1 200 | wc -l');
    assert.match(pipe.out, /^200$/m);
    // Power-off is covered by the monitors test (system_powerdown -> graceful poweroff)
    // and the foreign-initramfs test (poweroff -f); here the guest reboots.
    vm.child.stdin!.write('reboot -f\n');
    const code = await vm.exited;
    assert.equal(code, 0, `cuju exit code; stderr:\n${vm.stderr}`);
  } finally {
    await vm.kill();
  }
});
