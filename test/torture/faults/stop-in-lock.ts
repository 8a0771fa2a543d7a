/**
 * SIGSTOP of the primary while it holds the lease file's lock: inside the shared-disk
 * write fence (a release pass holds it across the image writes) or inside a renewal. No
 * backup can take the lease from a frozen holder, so the primary's kernel kills it at its
 * hold deadline (the lease's ttl, src/ft/lease/hold-deadline.ts); the backup then wins and
 * takes over. The moment is found from outside by probing the lock: a probe that finds it
 * busy stops the primary at once and probes again; still busy means it froze holding it
 * (otherwise it is continued and the probing goes on). A plain stop-primary lands there
 * only by chance (torture round 135 of 166, the finding this kind now replays).
 */
import { closeSync, openSync } from 'node:fs';
import { nativeImageLocker, type ImageLocker } from '../../../src/block/image-lock.js';
import { leasePath, sleep, type FaultKind } from './fault.js';

const PROBE_FOR_MS = 30_000;

/** True when another open file holds the lock (this probe holds it for microseconds otherwise). */
function lockBusy(locker: ImageLocker, path: string): boolean {
  const fd = openSync(path, 'r+');
  try {
    return !locker.lock(fd, true);
  } finally {
    closeSync(fd); // drops the probe's own lock
  }
}

export const stopInLock: FaultKind = {
  name: 'stop-in-lock',
  unavailable: (f) => (!f.heartbeat ? 'needs -ft-heartbeat (a stopped primary keeps its connection open)' : !f.lease ? 'needs -ft-lease (its lock is what the primary holds)' : !nativeImageLocker() ? 'needs the native addon (OFD locks)' : false),
  needs: {},
  survivor: 'backup',
  clientSeconds: 14, // the backup takes over after the ttl (5 s) plus detection: keep talking through it
  inject: async ({ pair, dir, note }) => {
    const locker = nativeImageLocker()!;
    const path = leasePath(dir);
    const start = performance.now();
    for (let probes = 1; performance.now() - start < PROBE_FOR_MS; probes++) {
      if (!lockBusy(locker, path)) {
        await sleep(1);
        continue;
      }
      pair.primary.signal('SIGSTOP');
      if (lockBusy(locker, path)) {
        note(`SIGSTOP primary (pid ${pair.primary.pid}) while it held the lease's lock (probe ${probes}, ${Math.round(performance.now() - start)} ms)`);
        return;
      }
      pair.primary.signal('SIGCONT'); // it let go in between: try again
    }
    throw new Error(`the primary never held the lease's lock in ${PROBE_FOR_MS} ms of probing`);
  },
  settle: async ({ pair, note }) => {
    note(pair.primary.running ? 'the frozen primary is still running (its hold deadline did not kill it)' : 'the frozen primary was killed by its kernel at its hold deadline');
    pair.primary.signal('SIGCONT');
    await sleep(3000); // a survivor of the deadline would have to fence itself now
  },
};
