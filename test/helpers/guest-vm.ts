/**
 * Tests' view of the guest harness (src/guest/harness/guest-vm.ts), plus the visible
 * skip reason for tests that boot a guest where they can't.
 */
import { existsSync } from 'node:fs';
import { INITRD, KERNEL } from '../../src/guest/harness/guest-vm.js';
import { kvmSkipReason } from './kvm.js';

export * from '../../src/guest/harness/guest-vm.js';

/** Why a guest-booting test can't run here, or false. */
export function guestSkipReason(): string | false {
  const kvm = kvmSkipReason();
  if (kvm) return kvm;
  if (!existsSync(KERNEL) || !existsSync(INITRD)) return 'needs the guest images: run `npm run guest` (npm test does it first)';
  return false;
}
