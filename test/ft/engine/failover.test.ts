/**
 * Failover between two tiny real KVM machines: the primary's connection dies at a
 * random moment (seeded; set FT_FAULT_SEED to replay, the seed is in every test name),
 * directly (its socket reset or closed) or in the network (the fault proxy resets,
 * closes or truncates the FT channel at a random byte, mid-epoch), or one byte of an
 * epoch is corrupted. Each time the backup takes over at exactly the epoch it last
 * committed and acknowledged, with RAM equal to the primary's at that epoch's boundary
 * (ft-pair.ts assertTookOver); a damaged or cut-off epoch is never applied; and the
 * primary, which outlives its connection here, runs on unprotected with its output released.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmSystem } from '../../../src/kvm/system.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { until } from '../../migration/harness.js';
import { describeFault, type Fault, type FaultAction } from '../../migration/proxy.js';
import { assertPrimaryRunsOnUnprotected, assertTookOver, openPair, protect, TEST_EPOCH_US, untilAcked } from './ft-pair.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 60_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const SEED = Number(process.env.FT_FAULT_SEED ?? Date.now() % 1_000_000);

/** A whole number in [0, n), from the printed seed (the same mulberry32 sequence as before). */
const rng = new SeededRandom(SEED);
const random = (n: number): number => Math.floor(rng.next() * n);

const KILL_ROUNDS = 5;

for (let round = 1; round <= KILL_ROUNDS; round++) {
  // Drawn now, so the seed alone fixes every round's choices.
  const ackTarget = 1 + random(15);
  const delayUs = random(2 * TEST_EPOCH_US);
  const how = random(2) === 0 ? 'reset' : 'close';
  test(`the primary dies (${how}) after ACK ${ackTarget} + ${delayUs} us: the backup takes over at its last acknowledged epoch (round ${round}, seed ${SEED})`, opts, async () => {
    const pair = await openPair(kvm!);
    try {
      await protect(pair, 'outgoing');
      await untilAcked(pair, ackTarget);
      await sleep(delayUs / 1000);
      const socket = pair.primarySocket!;
      if (how === 'reset') socket.resetAndDestroy();
      else socket.destroy();
      const epoch = await assertTookOver(pair, `round ${round}`);
      assert.ok(epoch >= ackTarget, `took over at ${epoch}, after ACK ${ackTarget}`);
      assert.match(pair.backupFt.stats.reason ?? '', /^primary lost: /);
      await assertPrimaryRunsOnUnprotected(pair, `round ${round}: the primary`);
    } finally {
      await pair.close();
    }
  });
}

/** A byte of the FT channel (primary → backup), well past the HELLO: inside the first few epochs (~1 MB each). */
function ftChannelByte(): number {
  return 100_000 + random(4_000_000);
}

function ftFault(action: FaultAction): Fault {
  return { at: { direction: 'stream', part: 'commands', offset: ftChannelByte() }, action };
}

const cuts: Fault[] = [ftFault({ kind: 'reset' }), ftFault({ kind: 'close' }), ftFault({ kind: 'truncate' })];
for (const fault of cuts) {
  test(`the FT channel is cut mid-epoch (${describeFault(fault)}): the backup takes over at the last whole epoch (seed ${SEED})`, opts, async () => {
    const pair = await openPair(kvm!, fault);
    try {
      await protect(pair, 'controller');
      await until(() => pair.proxy!.fired, 'the fault to fire', 20_000);
      // Cut inside epoch 1, the backup takes over at the sync point (epoch 0): also right.
      await assertTookOver(pair, describeFault(fault));
      await assertPrimaryRunsOnUnprotected(pair, `${describeFault(fault)}: the primary`);
    } finally {
      await pair.close();
    }
  });
}

for (let i = 0; i < 3; i++) {
  const fault = ftFault({ kind: 'corrupt', xor: 1 << random(8) });
  test(`one corrupted byte in the FT channel (${describeFault(fault)}): the damaged epoch is never applied, and the backup stands down (a live primary sent it) instead of taking over (seed ${SEED})`, opts, async () => {
    const pair = await openPair(kvm!, fault);
    try {
      // No primary heartbeat between the epochs (it sends one only after a silent period),
      // so frame #k is epoch k, as the check below needs.
      pair.primaryFt.setHeartbeat(10_000, 600_000);
      await protect(pair, 'controller');
      await until(() => pair.proxy!.fired, 'the fault to fire', 20_000);
      await until(() => pair.backupResult !== undefined, 'the backup to end', 20_000);
      const why = pair.cancelled.join('; ') || (pair.backupResult?.error?.message ?? '');
      assert.match(why, /damaged|CRC|SHA-256|checksum/i, 'the backup ended because it found the damage');
      assert.match(why, /stands down/, why);
      assert.equal(pair.backup.started, false, 'the backup never ran the VM');
      assert.equal(pair.backupVm.events.filter((e) => e.name === 'CUJU_FT_FAILOVER').length, 0, 'no failover');
      // The reader names the frame it refused; HELLO is #0, so EPOCH #k is epoch k, and
      // the backup committed exactly the epochs before it.
      const refused = /EPOCH #(\d+)/.exec(why);
      if (refused) assert.equal(pair.backupFt.stats.epoch, Number(refused[1]) - 1, `refused ${refused[0]}, committed up to ${pair.backupFt.stats.epoch}`);
      await assertPrimaryRunsOnUnprotected(pair, `${describeFault(fault)}: the primary`);
    } finally {
      await pair.close();
    }
  });
}
