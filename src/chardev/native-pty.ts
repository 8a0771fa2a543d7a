/**
 * The host's pseudo-terminal allocator (posix_openpt/unlockpt/ptsname done with the
 * native addon's open and ioctl), installed into the chardev layer at start-up.
 */
import { constants } from 'node:fs';
import { native } from '../kvm/native.js';
import type { PseudoTerminal, PtyAllocator } from './pty.js';

const TIOCGPTN = 0x80045430;
const TIOCSPTLCK = 0x40045431;

export const nativePtyAllocator: PtyAllocator = {
  openpty(): PseudoTerminal {
    const addon = native();
    const masterFd = addon.open('/dev/ptmx', constants.O_RDWR | constants.O_NOCTTY);
    try {
      addon.ioctl(masterFd, TIOCSPTLCK, new Uint8Array(4));
      const number = new Uint8Array(4);
      addon.ioctl(masterFd, TIOCGPTN, number);
      return { masterFd, slavePath: `/dev/pts/${new DataView(number.buffer).getUint32(0, true)}` };
    } catch (e) {
      addon.close(masterFd);
      throw e;
    }
  },
};
