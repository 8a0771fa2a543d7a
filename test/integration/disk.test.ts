/**
 * A real guest with a virtio-blk disk (ext4 image built from a folder on the host)
 * and virtio-rng: the guest reads the host's file, writes and syncs its own, powers
 * off; on the host the image checks clean with e2fsck and holds the guest's file.
 * (The `-drive ...,if=virtio` short form makes the same device: test/cli/devices.test.ts.
 * A second boot to read the file back was dropped: it cost a cold boot, minutes of
 * emulated kernel code here, to show what debugfs on the host already shows.)
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

test('virtio-blk: guest reads and writes an ext4 disk, the image checks clean; virtio-rng feeds /dev/hwrng', { skip, timeout: BOOT_TIMEOUT_MS + 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-disk-'));
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'hello.txt'), 'hello from the host\n');
  const image = join(dir, 'disk.img');
  await makeExt4Image({ sourceDir: src, imagePath: image, sizeBytes: 16 * 1024 * 1024 });
  const vm = new GuestVm({
    extraArgs: ['-drive', `if=none,id=drive0,cache=none,format=raw,file=${image}`, '-device', 'virtio-blk,drive=drive0,serial=cuju-disk', '-device', 'virtio-rng'],
  });
  try {
    await vm.waitForShell();
    assert.match((await vm.run('cat /sys/block/vda/serial')).out, /cuju-disk/);
    const mount = await vm.run('mkdir -p /mnt && mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt');
    assert.equal(mount.status, 0, mount.out);
    assert.match(mount.out, /hello from the host/);
    const write = await vm.run('echo written-by-the-guest > /mnt/guest.txt && sync && umount /mnt');
    assert.equal(write.status, 0, write.out);
    assert.match((await vm.run('cat /sys/devices/virtual/misc/hw_random/rng_current')).out, /virtio_rng/);
    const rnd = await vm.run('head -c 32 /dev/hwrng | od -An -tx1 | tr -d " \\n"');
    assert.match(rnd.out.trim(), /^[0-9a-f]{64}$/);
    vm.child.stdin!.write('poweroff\n');
    assert.equal(await vm.exited, 0, vm.stderr);
    execFileSync('e2fsck', ['-fn', image], { stdio: 'pipe' }); // throws unless clean
    const content = execFileSync('debugfs', ['-R', 'cat /guest.txt', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(content, 'written-by-the-guest\n');
  } finally {
    await vm.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
