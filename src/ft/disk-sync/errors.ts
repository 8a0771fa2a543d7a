/** Errors of the initial disk copy, each one line naming the problem and the fix. */

/** The disk-copy phase of the migration stream is damaged, out of order or out of range. */
export class DiskCopyError extends Error {
  override readonly name = 'DiskCopyError';
}

/** The two hosts' disks do not fit together (size, count, id, mode, read-only content). */
export class DiskMismatchError extends Error {
  override readonly name = 'DiskMismatchError';
}
