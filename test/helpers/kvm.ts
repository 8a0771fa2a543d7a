/**
 * Tests that need /dev/kvm skip with a visible reason when it is absent or unusable,
 * never silently: pass `{ skip: kvmSkipReason() }` to test().
 */
import { accessSync, constants } from 'node:fs';

export function kvmSkipReason(): string | false {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return false;
  } catch {
    return 'needs /dev/kvm (absent or no permission on this host)';
  }
}
