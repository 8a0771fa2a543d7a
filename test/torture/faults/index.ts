/** Every fault kind the torture suite knows, by name. */
import { corruptEpoch, truncateEpoch } from './damage.js';
import type { FaultKind } from './fault.js';
import { killBackup, killPrimary } from './kill.js';
import { cutLink, slowLink } from './link.js';
import { reprotect } from './reprotect.js';
import { pausePrimary, stopPrimary } from './stop-primary.js';
import { standby } from './standby.js';
import { stopInLock } from './stop-in-lock.js';

export const ALL_FAULTS: readonly FaultKind[] = [killPrimary, killBackup, stopPrimary, cutLink, slowLink, corruptEpoch, truncateEpoch, reprotect, standby, pausePrimary, stopInLock];

export function faultByName(name: string): FaultKind {
  const f = ALL_FAULTS.find((k) => k.name === name);
  if (!f) throw new RangeError(`unknown fault '${name}': one of ${ALL_FAULTS.map((k) => k.name).join(', ')}`);
  return f;
}
