/**
 * The QEMU release whose monitor protocols cuju speaks, and cuju's own
 * version. Management tools (libvirt, scripts) key behaviour off the QEMU
 * version, so it names what we are compatible with, not what we are.
 */
export const QEMU_VERSION = { major: 7, minor: 2, micro: 0 } as const;
export const CUJU_VERSION = '0.1.0';

export const QEMU_VERSION_STRING = `${QEMU_VERSION.major}.${QEMU_VERSION.minor}.${QEMU_VERSION.micro}`;
/** What QMP reports as `package`. */
export const CUJU_PACKAGE = `cuju-${CUJU_VERSION}`;
