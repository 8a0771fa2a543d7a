/**
 * The backup's side of FT verify mode: a VERIFY arrives right after its EPOCH, so this
 * VM's RAM and held device states are exactly the state after that epoch (the next one
 * is not applied yet). All of RAM is hashed, whatever the epochs touched: a page that
 * changed behind the replication's back must show. The backup's VM never runs, so the
 * only cost is time: the next epoch (and its ACK) waits for the hash (~95 ms per
 * 128 MiB measured), which delays the primary's output release once per verification.
 * The hash runs a few chunks per event-loop turn, so heartbeats still go out meanwhile
 * (a loop blocked for longer than the peer timeout would look like a dead backup).
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import { MAX_VERIFY_RANGES, type VerifyRequest, type VerifyResult } from '../wire/index.js';
import { deviceDigest, differingRanges, ramBuffer, ramDigestsSliced } from './ram-digests.js';
import type { VerifyStats } from './verify-stats.js';

export async function verifyBackupState(req: VerifyRequest, ram: Uint8Array | GuestMemory, devices: readonly unknown[], stats?: VerifyStats): Promise<VerifyResult> {
  const t0 = performance.now();
  const bytes = ramBuffer(ram);
  const ours = await ramDigestsSliced(bytes, req.chunkBytes);
  if (stats) stats.lastHashMs = Math.round(performance.now() - t0);
  const ranges = differingRanges(req.ramDigests, ours, req.chunkBytes, bytes.length);
  return {
    epoch: req.epoch,
    devicesDiffer: !Buffer.from(deviceDigest(devices)).equals(Buffer.from(req.deviceDigest)),
    ramRanges: ranges.slice(0, MAX_VERIFY_RANGES),
    truncated: ranges.length > MAX_VERIFY_RANGES,
  };
}
