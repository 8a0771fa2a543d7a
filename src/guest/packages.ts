/**
 * The Debian packages the guest build needs, installed on demand so that
 * `npm run guest` works on a fresh Debian 12 machine.
 */
import { GuestBuildError } from './errors.js';
import { progress } from './progress.js';
import { run } from './run.js';

export const REQUIRED_PACKAGES: readonly string[] = [
  'linux-source-6.1', // the kernel tree: /usr/src/linux-source-6.1.tar.xz
  'busybox-static', // the whole guest user space
  'build-essential', // gcc, make
  'flex',
  'bison',
  'bc',
  'libelf-dev', // objtool
  'libssl-dev', // scripts/sign-file, extract-cert
  'cpio',
  'xz-utils', // unpacking the kernel tarball
  'patch',
  'e2fsprogs', // mkfs.ext4 for guest disks
];

/** Which of `names` dpkg reports as installed. */
export async function installedPackages(names: readonly string[]): Promise<Set<string>> {
  const result = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\\n', ...names], {
    okExitCodes: [0, 1], // 1: some package is unknown to dpkg, which only means "not installed"
  });
  const installed = new Set<string>();
  for (const line of result.stdout.split('\n')) {
    const [name, status] = line.trim().split(/\s+/);
    // "ii" = desired install, currently installed.
    if (name && status === 'ii') installed.add(name.replace(/:.*$/, ''));
  }
  return installed;
}

export async function ensurePackages(names: readonly string[] = REQUIRED_PACKAGES): Promise<void> {
  const installed = await installedPackages(names);
  const missing = names.filter((n) => !installed.has(n));
  if (missing.length === 0) {
    progress(`packages: all ${names.length} present`);
    return;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new GuestBuildError(
      `missing Debian packages: ${missing.join(' ')}. Install them with ` +
        `"sudo apt-get install -y --no-install-recommends ${missing.join(' ')}" or run "npm run guest" as root.`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  progress(`packages: installing ${missing.join(' ')}`);
  await run('apt-get', ['update'], { env });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  const after = await installedPackages(missing);
  const still = missing.filter((n) => !after.has(n));
  if (still.length > 0) {
    throw new GuestBuildError(`apt-get did not install: ${still.join(' ')}. Check the apt sources of this machine.`);
  }
}

/** The installed version of a package, e.g. "6.1.192-2" for linux-source-6.1. */
export async function packageVersion(name: string): Promise<string> {
  const result = await run('dpkg-query', ['-W', '-f=${Version}', name]);
  return result.stdout.trim();
}
