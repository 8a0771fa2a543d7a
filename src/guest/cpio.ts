/**
 * Writer for the "newc" cpio format (SVR4 without CRC), the format the Linux kernel
 * unpacks as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * Written here rather than by running cpio(1) so the archive needs no root (device
 * nodes exist only in the archive), and is byte-for-byte reproducible (fixed inode
 * numbers, owners and times), which the content-hash cache relies on.
 */

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'file'; readonly path: string; readonly mode: number; readonly data: Uint8Array }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | { readonly kind: 'chardev'; readonly path: string; readonly mode: number; readonly major: number; readonly minor: number };

export class CpioError extends Error {
  override readonly name = 'CpioError';
}

const MAGIC = '070701';
const HEADER_SIZE = 110;
export const TRAILER_NAME = 'TRAILER!!!';

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new CpioError(`cpio header field out of range: ${value}`);
  }
  return value.toString(16).padStart(8, '0');
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  fileSize: number;
  rdevMajor: number;
  rdevMinor: number;
  name: string;
}

function headerBytes(h: Header): Buffer {
  const name = Buffer.from(`${h.name}\0`, 'utf8');
  const fields = [
    h.ino,
    h.mode,
    0, // uid: root
    0, // gid: root
    h.nlink,
    0, // mtime: fixed, for reproducible archives
    h.fileSize,
    0, // devmajor
    0, // devminor
    h.rdevMajor,
    h.rdevMinor,
    name.length,
    0, // check: unused by newc
  ];
  const text = MAGIC + fields.map(hex8).join('');
  return Buffer.concat([Buffer.from(text, 'ascii'), name, Buffer.alloc(pad4(HEADER_SIZE + name.length))]);
}

/** Archive path as the kernel expects it: relative, no leading "/" or "./". */
export function normalizeArchivePath(path: string): string {
  const clean = path.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
  if (clean === '' || clean.split('/').some((part) => part === '..' || part === '' || part === '.')) {
    throw new CpioError(`invalid path in initramfs: "${path}"`);
  }
  return clean;
}

/**
 * Serializes entries in the given order (parents must come before children for
 * the kernel to create them; see sortForArchive) and appends the trailer.
 */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  let ino = 1;
  for (const entry of entries) {
    const name = normalizeArchivePath(entry.path);
    if (seen.has(name)) throw new CpioError(`duplicate path in initramfs: ${name}`);
    seen.add(name);
    const perm = (m: number): number => m & 0o7777;
    let header: Header;
    let data: Uint8Array = new Uint8Array(0);
    switch (entry.kind) {
      case 'dir':
        header = { ino, mode: S_IFDIR | perm(entry.mode), nlink: 2, fileSize: 0, rdevMajor: 0, rdevMinor: 0, name };
        break;
      case 'file':
        data = entry.data;
        header = { ino, mode: S_IFREG | perm(entry.mode), nlink: 1, fileSize: data.length, rdevMajor: 0, rdevMinor: 0, name };
        break;
      case 'symlink':
        data = Buffer.from(entry.target, 'utf8');
        header = { ino, mode: S_IFLNK | 0o777, nlink: 1, fileSize: data.length, rdevMajor: 0, rdevMinor: 0, name };
        break;
      case 'chardev':
        header = {
          ino,
          mode: S_IFCHR | perm(entry.mode),
          nlink: 1,
          fileSize: 0,
          rdevMajor: entry.major,
          rdevMinor: entry.minor,
          name,
        };
        break;
    }
    ino++;
    parts.push(headerBytes(header), Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)));
  }
  parts.push(headerBytes({ ino: 0, mode: 0, nlink: 1, fileSize: 0, rdevMajor: 0, rdevMinor: 0, name: TRAILER_NAME }));
  return Buffer.concat(parts);
}

/** Orders entries so every directory precedes what it contains (plain path order). */
export function sortForArchive<T extends CpioEntry>(entries: readonly T[]): T[] {
  const key = (e: CpioEntry): string => normalizeArchivePath(e.path);
  return [...entries].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
