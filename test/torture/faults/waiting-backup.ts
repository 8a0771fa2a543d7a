/**
 * A further backup VMM a fault starts (a new backup after a failover, a standby): waiting
 * with `-incoming tcp:0:PORT,ft_mode` on the given tap, with a fresh image for replicated
 * disks (the initial disk copy fills it) or the same shared image, the round's FT flags
 * and heartbeat. Registered with the round, so it is counted, checked and killed.
 */
import { join } from 'node:path';
import { freePort } from '../../../src/net/free-port.js';
import { FtVm } from '../../../src/guest/harness/ft-vm.js';
import { freshDisk, kvArgs } from '../../../src/guest/harness/kv-guest.js';
import type { FaultContext } from './fault.js';

export async function startWaitingBackup(ctx: FaultContext, label: string, tap: number): Promise<{ vm: FtVm; port: number }> {
  const { disks, net } = ctx;
  const image = disks.mode === 'shared' ? disks.primary : join(ctx.dir, `${label}.img`);
  if (disks.mode === 'replicated') await freshDisk(image);
  const port = await freePort();
  const args = kvArgs(image, disks.mode, net.taps[tap].name);
  const vm = new FtVm({ ...args, label, extraArgs: [...args.extraArgs!, ...ctx.ftArgs, '-incoming', `tcp:0:${port},ft_mode`] });
  ctx.addVm(vm, image);
  await vm.waitForLog(/waiting for an incoming migration/, 30_000);
  if (ctx.heartbeat) await vm.hmp(`cuju-set-heartbeat ${ctx.heartbeat.periodMs} ${ctx.heartbeat.timeoutMs}`);
  return { vm, port };
}
