/**
 * Builds an ext4 disk image holding a folder's contents, with e2fsprogs'
 * `mkfs.ext4 -d DIR -F IMG SIZE` (no root, no loop devices, no mounting).
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { promisify } from 'node:util';
import { MakeExt4Error } from './errors.js';

const execFileAsync = promisify(execFile);

export interface MakeExt4Options {
  /** Folder whose contents become the file system's root. */
  sourceDir: string;
  /** Image file to create (overwritten). */
  imagePath: string;
  /** Image size in bytes (a multiple of 1 KiB). */
  sizeBytes: number;
  /** Volume label (at most 16 bytes). */
  label?: string;
  /** mkfs.ext4 to run; default from PATH (also /sbin, /usr/sbin). */
  mkfs?: string;
}

export async function makeExt4Image(opts: MakeExt4Options): Promise<void> {
  const { sourceDir, imagePath, sizeBytes } = opts;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 1024 !== 0) {
    throw new MakeExt4Error(`ext4 image size ${sizeBytes} must be a positive multiple of 1024 bytes`);
  }
  const st = await fsp.stat(sourceDir).catch(() => undefined);
  if (!st?.isDirectory()) throw new MakeExt4Error(`cannot build an ext4 image from '${sourceDir}': not a folder`);
  // A sized, sparse file first: mkfs then never has to guess the size from the path.
  const h = await fsp.open(imagePath, 'w');
  try {
    await h.truncate(sizeBytes);
  } finally {
    await h.close();
  }
  const args = ['-q', '-F', '-t', 'ext4', '-d', sourceDir, ...(opts.label ? ['-L', opts.label] : []), imagePath, `${sizeBytes / 1024}k`];
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/sbin:/usr/sbin` };
  try {
    await execFileAsync(opts.mkfs ?? 'mkfs.ext4', args, { env });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new MakeExt4Error('mkfs.ext4 not found: install e2fsprogs (apt-get install e2fsprogs)');
    const detail = (err.stderr ?? err.message).trim().split('\n').pop();
    throw new MakeExt4Error(`mkfs.ext4 could not build '${imagePath}' from '${sourceDir}': ${detail}`);
  }
}
