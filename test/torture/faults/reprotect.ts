/**
 * Re-protection: kill -9 of the primary, the backup takes over, a fresh backup VMM
 * (on the dead primary's tap; a fresh image for replicated disks, filled by the initial
 * disk copy, or the same shared image) is paired with `migrate -c` on the survivor, and
 * then the survivor is killed too: the new backup must take over with every acknowledged
 * answer and write, on the client's same connection.
 */
import { startWaitingBackup } from './waiting-backup.js';
import { sleep, type FaultKind } from './fault.js';

export const reprotect: FaultKind = {
  name: 'reprotect',
  unavailable: () => false,
  needs: {},
  survivor: 'backup2',
  clientSeconds: 20,
  inject: async (ctx) => {
    const { pair, note } = ctx;
    pair.primary.signal('SIGKILL');
    note(`kill -9 primary (pid ${pair.primary.pid})`);
    await pair.backup.waitForLog(/took over from epoch \d+/, 60_000);
    note('the backup took over');
    // On the dead primary's tap.
    const { port } = await startWaitingBackup(ctx, 'backup2', 0);
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
