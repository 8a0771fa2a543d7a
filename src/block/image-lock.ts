/**
 * Advisory image locking, like QEMU's: a VMM writing an image holds an exclusive lock, a
 * reader (readonly=on) or a sharing writer (share-rw=on) a shared one, so a second VMM
 * cannot open the same image for writing by mistake. The locks are Linux open-file-
 * description locks (fcntl F_OFD_SETLK on the whole file): they belong to the open file,
 * work between processes and are released when the fd is closed. Node has no fcntl, so the lock comes from the native addon; `ofdLock`
 * must be:
 *
 *   ofdLock(fd: number, exclusive: boolean): boolean
 *     fcntl(fd, F_OFD_SETLK, { l_type: exclusive ? F_WRLCK : F_RDLCK, l_whence: SEEK_SET,
 *           l_start: 0, l_len: 0 })
 *     -> true on success, false on EAGAIN/EACCES (someone else holds a conflicting lock),
 *        throws (errno) otherwise.
 */
import { native } from '../kvm/native.js';

export interface ImageLocker {
  /** Locks the whole file behind `fd`; false when another holder conflicts. */
  lock(fd: number, exclusive: boolean): boolean;
}

type OfdLock = (fd: number, exclusive: boolean) => boolean;

/** The addon's OFD locker, or undefined while the addon does not provide `ofdLock` yet. */
export function nativeImageLocker(): ImageLocker | undefined {
  let fn: OfdLock | undefined;
  try {
    fn = (native() as unknown as { ofdLock?: OfdLock }).ofdLock;
  } catch {
    return undefined; // addon not built: callers decide whether to run without locking
  }
  if (typeof fn !== 'function') return undefined;
  const ofdLock = fn;
  return { lock: (fd, exclusive) => ofdLock(fd, exclusive) };
}
