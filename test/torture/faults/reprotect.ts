/**
 * Re-protection: kill -9 of the primary, the backup takes over, a fresh backup VMM
 * (on the dead primary's tap; a fresh image for replicated disks, filled by the initial
 * disk copy, or the same shared image) is paired with `migrate -c` on the survivor, and
 * then the survivor is killed too: the new backup must take over with every acknowledged
 * answer and write, on the client's same connection.
 */
import { join } from 'node:path';
import { freePort } from '../../../bench/migrate/migrating-vm.js';
import { FtVm } from '../../helpers/ft-vm.js';
import { freshDisk, kvArgs } from '../../helpers/kv-guest.js';
import { sleep, type FaultKind } from './fault.js';

export const reprotect: FaultKind = {
  name: 'reprotect',
  unavailable: () => false,
  needs: {},
  survivor: 'backup2',
  clientSeconds: 20,
  inject: async (ctx) => {
    const { pair, note, disks, net } = ctx;
    pair.primary.signal('SIGKILL');
    note(`kill -9 primary (pid ${pair.primary.pid})`);
    await pair.backup.waitForLog(/took over from epoch \d+/, 60_000);
    note('the backup took over');
    const image = disks.mode === 'shared' ? disks.primary : join(ctx.dir, 'backup2.img');
    if (disks.mode === 'replicated') await freshDisk(image);
    const port = await freePort();
    const args = kvArgs(image, disks.mode, net.taps[0].name);
    const b2 = new FtVm({ ...args, label: 'backup2', extraArgs: [...args.extraArgs!, ...ctx.ftArgs, '-incoming', `tcp:0:${port},ft_mode`] });
    ctx.addVm(b2, image);
    await b2.waitForLog(/waiting for an incoming migration/, 30_000);
    if (ctx.heartbeat) await b2.hmp(`cuju-set-heartbeat ${ctx.heartbeat.periodMs} ${ctx.heartbeat.timeoutMs}`);
    await pair.backup.hmp('migrate_set_capability cuju-ft on');
    const out = await pair.backup.hmp(`migrate -c tcp:127.0.0.1:${port}`, 180_000);
    if (!/fault tolerance started/.test(out)) {
      note(`re-protection failed: ${out.trim()}`);
      return;
    }
    note('re-protected: the survivor is the primary of backup2');
    await sleep(ctx.rng.int(500, 2500));
    pair.backup.signal('SIGKILL');
    note(`kill -9 of the new primary (pid ${pair.backup.pid})`);
  },
};
