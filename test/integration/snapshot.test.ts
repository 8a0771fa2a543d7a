/**
 * Snapshots of a real guest: `migrate file:` on a running VM, `-incoming file:` in a new
 * process resumes it where it was (its shell state included), and a snapshot that does
 * not fit (other -m) or is damaged is refused with one line and exit 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, openSync, rmSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_TIMEOUT_MS, CUJU, GuestVm, INITRD, KERNEL, guestSkipReason } from '../helpers/guest-vm.js';
import { SHELL_RECIPE, ensureSnapshot, guestFromSnapshot } from '../../src/guest/harness/snapshot-recipe.js';
import { hmp } from '../../src/monitor/client/hmp-command.js';
import { execFile } from 'node:child_process';

const skip = guestSkipReason();

function cuju(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CUJU, ...args], { timeout: 60_000 }, (e, _out, stderr) => {
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, stderr });
    });
  });
}

test('a guest saved with migrate file: resumes in a new process, shell state included', { skip, timeout: BOOT_TIMEOUT_MS + 180_000 }, async () => {
  const first = await guestFromSnapshot(SHELL_RECIPE);
  const dir = mkdtempSync(join(tmpdir(), 'cuju-snap-'));
  let second: GuestVm | undefined;
  try {
    const set = await first.run('export CUJU_MARK=kept-$((6*7)); echo $CUJU_MARK');
    assert.equal(set.out.trim(), 'kept-42');
    const path = join(dir, 'vm.snap');
    const out = await hmp(first.hmpPath, `migrate file:${path}`);
    assert.match(out, /migration completed/);
    assert.match(await hmp(first.hmpPath, 'info status'), /VM status: running/, 'a snapshot leaves the VM running');
    assert.equal((await first.run('echo $CUJU_MARK')).out.trim(), 'kept-42');
    await first.kill();

    second = new GuestVm({ memoryMiB: 128, extraArgs: ['-incoming', `file:${path}`] });
    const again = await second.run('echo $CUJU_MARK', 60_000);
    assert.equal(again.out.trim(), 'kept-42', 'the shell variable set before the snapshot is still there');
    assert.match(second.stderr, /resumed the VM from/);
  } finally {
    await first.kill();
    await second?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-incoming file: refuses a snapshot of another machine or a damaged one, in one line', { skip, timeout: BOOT_TIMEOUT_MS + 120_000 }, async () => {
  const snap = await ensureSnapshot(SHELL_RECIPE);
  const base = ['-kernel', KERNEL, '-initrd', INITRD, '-append', 'console=ttyS0', '-serial', 'none', '-display', 'none'];
  const other = await cuju(['-m', '256', ...base, '-incoming', `file:${snap}`]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /snapshot RAM size mismatch: the snapshot has 128 MiB of RAM, this machine 256 MiB \(start cuju with -m 128M\)/);
  assert.doesNotMatch(other.stderr, /\n\s+at /, 'no stack trace');

  const dir = mkdtempSync(join(tmpdir(), 'cuju-snap-'));
  try {
    const damaged = join(dir, 'damaged.snap');
    copyFileSync(snap, damaged);
    const fd = openSync(damaged, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, Math.floor(statSync(damaged).size / 2));
    closeSync(fd);
    const bad = await cuju(['-m', '128', ...base, '-incoming', `file:${damaged}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cuju: .*(CRC|checksum|damaged)/i);
    assert.equal(bad.stderr.trim().split('\n').filter((l) => !/^cuju: (KVM backend|note:)/.test(l)).length, 1, bad.stderr);

    const missing = await cuju(['-m', '128', ...base, '-incoming', `file:${join(dir, 'nope.snap')}`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.snap/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
