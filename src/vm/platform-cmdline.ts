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

export function platformCmdline(backend: KvmBackend): string {
  const params = [powerCmdline()];
  if (backend === 'kvm_pvm') params.push(...PVM_PARAMS);
  return params.join(' ');
}

export function fullCmdline(userAppend: string | undefined, backend: KvmBackend): string {
  return [userAppend?.trim(), platformCmdline(backend)].filter(Boolean).join(' ');
}
