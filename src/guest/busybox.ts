/**
 * The busybox binary that makes up the guest's user space: Debian's busybox-static,
 * with a symlink at the path busybox itself reports for the applets that are run by
 * path (LINKED_APPLETS); its shell runs every other applet by name without one.
 */
import { readFile } from 'node:fs/promises';
import { GuestBuildError } from './errors.js';
import { run } from './run.js';

export const BUSYBOX_PATH = '/bin/busybox';

/** Applet paths relative to / (e.g. "bin/sh", "sbin/init", "usr/bin/awk"). */
export async function busyboxApplets(busybox: string = BUSYBOX_PATH): Promise<string[]> {
  const result = await run(busybox, ['--list-full']);
  const applets = result.stdout
    .split('\n')
    .map((l) => l.trim().replace(/^\/+/, ''))
    .filter((l) => l !== '' && l !== 'bin/busybox');
  if (applets.length === 0) throw new GuestBuildError(`${busybox} --list-full listed no applets`);
  return applets;
}

/**
 * Applets the guest relies on: /init and the inittab (sh, mount, devmem, ip, awk,
 * init, umount, poweroff), and the disk and network workloads run in the guest
 * (sync, httpd, nc, wget, ifconfig, route). A busybox built without one of them
 * would make a guest that boots but fails later, so the build checks them.
 */
export const REQUIRED_APPLETS: readonly string[] = [
  'sh', 'mount', 'umount', 'devmem', 'init', 'poweroff', 'awk',
  'ip', 'ifconfig', 'route', 'httpd', 'nc', 'wget', 'sync',
];

/**
 * Applets that get a link in the initramfs. Each symlink costs ~75 ms of emulated guest
 * kernel time when the kernel unpacks the initramfs on kvm_pvm (all 268 cost ~20 s of a
 * cold boot, docs/BENCHMARKS.md), and Debian's busybox-static runs applets from its shell
 * and from other applets by name without links (FEATURE_SH_STANDALONE, PREFER_APPLETS).
 * Links remain for what is run by path: the kernel (/sbin/poweroff, /sbin/init), the
 * inittab and shebang lines (/bin/sh, /usr/bin/env), `nc -e /bin/cat`, `which`, and the
 * everyday commands a user or a program outside busybox may exec through PATH.
 */
export const LINKED_APPLETS: ReadonlySet<string> = new Set([
  ...REQUIRED_APPLETS,
  'ash', 'env', 'halt', 'reboot', 'cat', 'echo', 'ls', 'cp', 'mv', 'rm', 'mkdir', 'ln', 'chmod',
  'grep', 'sed', 'head', 'tail', 'wc', 'tr', 'od', 'dd', 'seq', 'sleep', 'kill', 'ps', 'true',
  'false', 'test', '[', 'printf', 'date', 'uname', 'dmesg', 'free', 'ping', 'which', 'xargs',
  'find', 'sort', 'uniq', 'cut', 'vi', 'less', 'more', 'top', 'hostname', 'mdev',
]);

/** The applet paths of `applets` that get a link (LINKED_APPLETS). */
export function linkedApplets(applets: readonly string[]): string[] {
  return applets.filter((path) => LINKED_APPLETS.has(path.slice(path.lastIndexOf('/') + 1)));
}

/** Names in `required` that no applet path ("usr/sbin/httpd") in `applets` provides. */
export function missingApplets(applets: readonly string[], required: readonly string[] = REQUIRED_APPLETS): string[] {
  const have = new Set(applets.map((path) => path.slice(path.lastIndexOf('/') + 1)));
  return required.filter((name) => !have.has(name));
}

/** Throws GuestBuildError naming the required applets this busybox lacks. */
export function checkRequiredApplets(applets: readonly string[], busybox: string = BUSYBOX_PATH): void {
  const missing = missingApplets(applets);
  if (missing.length === 0) return;
  throw new GuestBuildError(
    `${busybox} lacks the applet(s) ${missing.join(', ')}, which the guest needs. ` +
      "Install Debian's busybox-static package, which has them all.",
  );
}

const PT_INTERP = 3;

/**
 * True when the ELF file has no program interpreter, i.e. it is statically linked
 * and runs in an initramfs that has no libc.
 */
export function isStaticElf(image: Uint8Array): boolean {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const isElf64Le = image.length >= 64 && view.getUint32(0, false) === 0x7f454c46 && image[4] === 2 && image[5] === 1;
  if (!isElf64Le) return false;
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > image.length) return false;
    if (view.getUint32(at, true) === PT_INTERP) return false;
  }
  return true;
}

export async function readStaticBusybox(busybox: string = BUSYBOX_PATH): Promise<Buffer> {
  const image = await readFile(busybox).catch((err: Error) => {
    throw new GuestBuildError(`cannot read ${busybox} (${err.message}). Install the busybox-static package.`);
  });
  if (!isStaticElf(image)) {
    throw new GuestBuildError(
      `${busybox} is not a static 64-bit executable, so it cannot run in the initramfs. ` +
        'Install the busybox-static package (it replaces the dynamic busybox).',
    );
  }
  return image;
}
