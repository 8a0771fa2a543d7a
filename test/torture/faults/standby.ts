/**
 * Automatic re-protection: a standby VMM waits (its own tap; a fresh image for replicated
 * disks, the same shared image otherwise) and the backup is told about it with
 * `cuju-set-standby`; kill -9 of the primary, the backup takes over and pairs the standby
 * by itself; then the new primary is killed too: the standby must take over with every
 * acknowledged answer and write, on the client's same connection.
 */
import { startWaitingBackup } from './waiting-backup.js';
import { sleep, type FaultKind } from './fault.js';

export const standby: FaultKind = {
  name: 'standby',
  unavailable: () => false,
  needs: { taps: 3 },
  survivor: 'standby',
  clientSeconds: 20,
  inject: async (ctx) => {
    const { pair, note } = ctx;
    // Its own tap: the primary still holds tap 0.
    const { port } = await startWaitingBackup(ctx, 'standby', 2);
    const set = await pair.backup.hmp(`cuju-set-standby tcp:127.0.0.1:${port}`);
    if (set.trim() !== '') throw new Error(`cuju-set-standby: ${set.trim()}`);
    const killedAt = performance.now();
    pair.primary.signal('SIGKILL');
    note(`standby waiting on port ${port}; kill -9 primary (pid ${pair.primary.pid})`);
    await pair.backup.waitForLog(/took over from epoch \d+/, 60_000);
    note('the backup took over');
    try {
      await pair.backup.waitForLog(/re-protected on standby/, 180_000);
    } catch (e) {
      note(`no automatic re-protection: ${(e as Error).message.split('\n')[0]}`);
      return;
    }
    note(`re-protected automatically ${Math.round(performance.now() - killedAt)} ms after the kill: the survivor is the primary of the standby`);
    await sleep(ctx.rng.int(500, 2500));
    pair.backup.signal('SIGKILL');
    note(`kill -9 of the new primary (pid ${pair.backup.pid})`);
  },
};
