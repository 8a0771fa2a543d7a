/**
 * What the VMM appends to the user's kernel command line so that the guest finds the
 * platform (Firecracker appends its virtio-mmio devices the same way): a user's plain
 * `-append "console=ttyS0"` must be enough on every backend.
 */
import type { KvmBackend } from '../kvm/system.js';
import { powerCmdline } from '../devices/power/power-port.js';

/**
 * Under kvm_pvm the guest kernel is emulated (~2M instructions/s):
 * - nowatchdog/nosoftlockup: emulated kernel work trips the lockup detectors.
 * - noxsave + clearcpuid: the emulator cannot execute XSAVE-family, SMAP (clac/stac),
 *   popcnt, rdrand/rdseed, rdtscp/rdpid and movbe; CPUID filtering hides most of them,
 *   but KVM does not let us clear XSAVE, so the kernel is told as well.
 * - nofsgsbase nopcid noinvpcid: instructions the emulator lacks.
 */
const PVM_PARAMS = [
  'nowatchdog',
  'nosoftlockup',
  'noxsave',
  'clearcpuid=xsave,smap,popcnt,rdrand,rdseed,rdtscp,rdpid,movbe',
  'nofsgsbase',
  'nopcid',
  'noinvpcid',
];

/**
 * The guest's clock under kvm_pvm. Told the TSC frequency, the kernel skips
 * calibrating it against the PIT (emulated code timing emulated port I/O), and
 * `tsc=reliable` skips the clocksource watchdog that would otherwise keep the TSC
 * "unstable" and the guest on a slow clocksource. With the TSC as clocksource the
 * LAPIC runs in TSC-deadline mode and idle CPUs stop ticking, which removes most of
 * the emulated timer-interrupt work (measured: docs/BENCHMARKS.md).
 * Not used on VT-x/AMD-V, where calibration is fast and the guest keeps its own
 * choice. Nothing is added when the user's command line already sets either.
 */
export function tscClockParams(backend: KvmBackend, tscKhz: number | undefined, userCmdline = ''): string[] {
  if (backend !== 'kvm_pvm' || !tscKhz || tscKhz <= 0) return [];
  if (/(^|\s)(tsc_early_khz|tsc)=/.test(userCmdline)) return [];
  return [`tsc_early_khz=${tscKhz}`, 'tsc=reliable'];
}

export interface PlatformOptions {
  /** The vCPUs' TSC frequency (VcpuFd.getTscKhz()); enables tscClockParams. */
  readonly tscKhz?: number;
  /** The user's -append, so that the platform does not override what it sets. */
  readonly userCmdline?: string;
}

export function platformCmdline(backend: KvmBackend, options: PlatformOptions = {}): string {
  const params = [powerCmdline()];
  if (backend === 'kvm_pvm') params.push(...PVM_PARAMS);
  params.push(...tscClockParams(backend, options.tscKhz, options.userCmdline));
  return params.join(' ');
}

export function fullCmdline(userAppend: string | undefined, backend: KvmBackend, tscKhz?: number): string {
  const user = userAppend?.trim();
  return [user, platformCmdline(backend, { tscKhz, userCmdline: user })].filter(Boolean).join(' ');
}
