/**
 * A cold boot of the real guest kernel and busybox user space in a real cuju process,
 * with the devices most tests restore from snapshots instead: a virtio-blk disk (an
 * ext4 image built from a folder on the host) and virtio-rng. Commands run through the
 * serial console; the guest reads the host's file, writes and syncs its own; then it
 * reboots from inside (with -no-reboot, as QEMU, that ends the VMM with exit code 0),
 * and on the host the image checks clean with e2fsck and holds the guest's file.
 * One boot for all of it: a cold boot costs minutes where guest kernel code is emulated.
 * (The `-drive ...,if=virtio` short form makes the same device: test/cli/devices.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestVm, guestSkipReason, BOOT_TIMEOUT_MS } from '../helpers/guest-vm.js';
import { makeExt4Image } from '../../src/block/make-ext4.js';

const skip = guestSkipReason() || (!existsSync('/sbin/e2fsck') ? 'needs e2fsprogs (e2fsck, debugfs)' : false);

test('cold boot to a shell: commands, an ext4 virtio-blk disk read and written, virtio-rng, and `reboot -f` under -no-reboot ends cuju with 0', { skip, timeout: BOOT_TIMEOUT_MS + 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-boot-'));
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'hello.txt'), 'hello from the host\n');
  const image = join(dir, 'disk.img');
  await makeExt4Image({ sourceDir: src, imagePath: image, sizeBytes: 16 * 1024 * 1024 });
  const vm = new GuestVm({
    memoryMiB: 128,
    extraArgs: ['-drive', `if=none,id=drive0,cache=none,format=raw,file=${image}`, '-device', 'virtio-blk,drive=drive0,serial=cuju-disk', '-device', 'virtio-rng'],
  });
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

    assert.match((await vm.run('cat /sys/block/vda/serial')).out, /cuju-disk/);
    const mount = await vm.run('mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt');
    assert.equal(mount.status, 0, mount.out);
    assert.match(mount.out, /hello from the host/);
    const write = await vm.run('echo written-by-the-guest > /mnt/guest.txt && sync && umount /mnt');
    assert.equal(write.status, 0, write.out);
    assert.match((await vm.run('cat /sys/devices/virtual/misc/hw_random/rng_current')).out, /virtio_rng/);
    const rnd = await vm.run('head -c 32 /dev/hwrng | od -An -tx1 | tr -d " \\n"');
    assert.match(rnd.out.trim(), /^[0-9a-f]{64}$/);

    // Power-off is covered by the monitors test (system_powerdown -> graceful poweroff)
    // and the foreign-initramfs test (poweroff -f); here the guest reboots. /init
    // mounted the disk on /mnt/disk too: sync first, as any reboot -f needs.
    assert.equal((await vm.run('sync; umount /mnt/disk 2>/dev/null; true')).status, 0);
    vm.child.stdin!.write('reboot -f\n');
    const code = await vm.exited;
    assert.equal(code, 0, `cuju exit code; stderr:\n${vm.stderr}`);
    execFileSync('e2fsck', ['-fn', image], { stdio: 'pipe' }); // throws unless clean
    const content = execFileSync('debugfs', ['-R', 'cat /guest.txt', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(content, 'written-by-the-guest\n');
  } finally {
    await vm.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
