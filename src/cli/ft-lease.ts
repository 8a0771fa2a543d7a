/**
 * Opens the split-brain lease the command line asks for (-ft-lease, or next to a share-rw
 * image) and checks it before the guest starts: a lease that cannot be reached or is not
 * a lease refuses to start with one clear message (a UsageError naming the flag), as
 * any other bad path does. The caller hands the lease to FtController.useLease with the output gates.
 */
import { FtLease } from '../ft/lease/ft-lease.js';
import { FileLeaseStore } from '../ft/lease/file-lease-store.js';
import type { DeviceSpec } from './args/devices.js';
import { ftLeaseFor } from './args/ft-lease-option.js';
import { UsageError } from './args/usage-error.js';

export async function openFtLease(option: string | undefined, devices: readonly DeviceSpec[], log: (line: string) => void): Promise<FtLease | undefined> {
  const config = ftLeaseFor(option, devices);
  if (!config) return undefined;
  let lease: FtLease;
  try {
    lease = new FtLease(new FileLeaseStore(config.path, { holdDeadlineMs: config.ttlMs, log }), { ttlMs: config.ttlMs, log });
    const record = await lease.probe();
    log(`split-brain lease: ${config.path} (${config.origin === 'share-rw disk' ? 'next to the share-rw image' : '-ft-lease'}, ttl ${lease.ttlMs} ms)${record ? `, held by ${record.holder} (token ${record.token})` : ''}`);
  } catch (e) {
    throw new UsageError(`${config.origin === '-ft-lease' ? '-ft-lease' : `split-brain lease next to the share-rw image`}: ${(e as Error).message}`);
  }
  return lease;
}
