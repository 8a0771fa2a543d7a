/**
 * Verify mode: both sides hash guest RAM and device state at the switch-over; equal
 * hashes prove the copy exact. RAM is hashed region by region in place (no copy).
 */
import { createHash } from 'node:crypto';
import type { GuestMemory } from '../memory/guest-memory.js';

export function hashRam(mem: GuestMemory): string {
  const h = createHash('sha256');
  for (const r of mem.regions) h.update(r.bytes);
  return h.digest('hex');
}

/** Device states as the machine reports them, in description order. */
export function hashDeviceStates(states: readonly unknown[]): string {
  const h = createHash('sha256');
  for (const s of states) h.update(JSON.stringify(s) + '\n');
  return h.digest('hex');
}
