/**
 * Failover with random kill points on the real guest (project issue 5): several runs,
 * each a fresh protected pair running the cuju-kv service (a counter in memory, an
 * fsync'ed log on its disk), a client in its own namespace on ONE TCP connection, and
 * kill -9 of the primary at a random moment. Every run: the same connection carries on
 * on the backup, the counter continues exactly (no acknowledged answer lost or repeated),
 * the log read back through the guest and on the survivor's image holds every
 * acknowledged write, and only the backup serves afterwards. Both disk modes: each side
 * its own image copy (replicated in the epochs) and one shared image (share-rw=on).
 *
 * CUJU_FT_RUNS=N (default 4) runs more; CUJU_FT_SEED=S replays the kill points of a run
 * (the seed is printed); CUJU_FT_DISK=replicated|shared runs only that disk mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOOT_TIMEOUT_MS, guestSkipReason } from '../helpers/guest-vm.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { diskCheckSkipReason } from '../helpers/kv-disk-check.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import type { DiskMode } from '../../src/guest/harness/kv-guest.js';
import { killPrimary } from '../torture/faults/kill.js';
import { runRound } from '../torture/round.js';
import { ftFeatures } from '../torture/ft-features.js';

const skip = guestSkipReason() || netnsSkipReason() || diskCheckSkipReason();
const RUNS = Number(process.env.CUJU_FT_RUNS ?? 4);
const ONLY_DISK = process.env.CUJU_FT_DISK as DiskMode | undefined;
if (ONLY_DISK !== undefined && ONLY_DISK !== 'replicated' && ONLY_DISK !== 'shared') throw new RangeError(`CUJU_FT_DISK must be replicated or shared, got '${ONLY_DISK}'`);

test(`kill -9 of the primary at random points (${RUNS} runs, replicated and shared disks): nothing acknowledged is lost`, { skip, timeout: BOOT_TIMEOUT_MS + RUNS * 180_000 }, async (t) => {
  const rng = SeededRandom.fromEnv('CUJU_FT_SEED');
  t.diagnostic(`seed ${rng.seed} (replay: CUJU_FT_SEED=${rng.seed})`);
  const features = ftFeatures();
  for (let i = 1; i <= RUNS; i++) {
    const disk = ONLY_DISK ?? (i % 2 === 1 ? 'replicated' : 'shared');
    const o = await runRound({ index: i, fault: killPrimary, disk, rng, features, clientSeconds: 6, log: (l) => t.diagnostic(l) });
    const summary = `run ${i} (${disk} disk, seed ${rng.seed}): ${o.notes.join(' / ')}`;
    assert.deepEqual(o.lost, [], `no acknowledged data lost: ${summary}`);
    assert.deepEqual(o.problems, [], summary);
    assert.equal(o.client.error, null, summary);
    assert.ok(o.client.answers > o.answersAtFault, `the backup answered on the same connection: ${summary}`);
    assert.deepEqual(o.serving, ['backup'], summary);
  }
});
