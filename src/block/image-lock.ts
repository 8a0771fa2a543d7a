/**
 * Advisory image locking, like QEMU's: a VMM writing an image holds an exclusive lock, a
 * reader (readonly=on) or a sharing writer (share-rw=on) a shared one, so a second VMM
 * cannot open the same image for writing by mistake. The locks are Linux open-file-
 * description locks (fcntl F_OFD_SETLK on the whole file): they belong to the open file,
 * work between processes and are released when the fd is closed. Node has no fcntl, so
 * the lock comes from the native addon (native/file_ops.c, ofdLock).
 */
import { native } from '../kvm/native.js';

export interface ImageLocker {
  /** Locks the whole file behind `fd`; false when another holder conflicts. */
  lock(fd: number, exclusive: boolean): boolean;
}

/** The addon's OFD locker, or undefined when the addon is not built (callers decide whether to run unlocked). */
export function nativeImageLocker(): ImageLocker | undefined {
  try {
    const addon = native();
    return { lock: (fd, exclusive) => addon.ofdLock(fd, exclusive) };
  } catch {
    return undefined;
  }
}
