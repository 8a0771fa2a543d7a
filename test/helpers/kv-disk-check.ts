/**
 * What the service's log holds on a disk image, read on the host after the run: the
 * image is copied, its journal replayed (`e2fsck -fy`: the guest was killed with the
 * file system mounted), and the log read with debugfs. This checks the disk itself,
 * independent of anything the guest's memory still holds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';

export function diskCheckSkipReason(): string | false {
  return existsSync('/sbin/e2fsck') && existsSync('/sbin/debugfs') ? false : 'needs e2fsprogs (e2fsck, debugfs)';
}

export interface LogOnDisk {
  /** Whole 16-byte records in the log. */
  records: number;
  /** The first record (1-based) that does not hold its own index, or 0. */
  firstBad: number;
  /** e2fsck's exit status (0 clean, 1 fixed: both fine after a crash; more: damage). */
  fsck: number;
}

export function readLogOnDisk(image: string, log = '/kv.log'): LogOnDisk {
  const copy = `${image}.check`;
  copyFileSync(image, copy);
  try {
    const fsck = spawnSync('/sbin/e2fsck', ['-fy', copy], { stdio: 'ignore' }).status ?? 255;
    let text = '';
    try {
      text = execFileSync('/sbin/debugfs', ['-R', `cat ${log}`, copy], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      text = '';
    }
    const records = Math.floor(text.length / 16);
    let firstBad = 0;
    for (let i = 0; i < records && !firstBad; i++) {
      const rec = text.slice(i * 16, i * 16 + 16);
      if (!/^W\d{14}\n$/.test(rec) || Number(rec.slice(1, 15)) !== i + 1) firstBad = i + 1;
    }
    if (!firstBad && text.length % 16 !== 0) firstBad = records + 1;
    return { records, firstBad, fsck };
  } finally {
    rmSync(copy, { force: true });
  }
}
