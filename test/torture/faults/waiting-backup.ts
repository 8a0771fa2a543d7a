/**
 * A further backup VMM a fault starts (a new backup after a failover, a standby): waiting
 * on the given tap, with a fresh image for replicated disks (the initial disk copy fills
 * it) or the same shared image, the round's FT flags and heartbeat. Registered with the
 * round, so it is counted, checked and killed.
 */
import { join } from 'node:path';
import { startWaitingBackup as startBackup } from '../../../src/guest/harness/kv-pair.js';
import type { FtVm } from '../../../src/guest/harness/ft-vm.js';
import { freshDisk } from '../../../src/guest/harness/kv-guest.js';
import type { FaultContext } from './fault.js';

export async function startWaitingBackup(ctx: FaultContext, label: string, tap: number): Promise<{ vm: FtVm; port: number }> {
  const { disks, net } = ctx;
  const image = disks.mode === 'shared' ? disks.primary : join(ctx.dir, `${label}.img`);
  if (disks.mode === 'replicated') await freshDisk(image);
  const started = await startBackup({ image, mode: disks.mode, tap: net.taps[tap].name, label, ftArgs: ctx.ftArgs, heartbeat: ctx.heartbeat });
  ctx.addVm(started.vm, image);
  return started;
}
