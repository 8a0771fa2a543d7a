/**
 * A live migration between two real (tiny) KVM machines in this process, over
 * loopback: the source guest dirties RAM all through pre-copy, verify mode compares
 * both sides' hashes, the destination's RAM at the switch-over equals the frozen
 * source's byte for byte, the destination guest carries on from there, and the source
 * stays paused (postmigrate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../src/kvm/system.js';
import { MigrationController } from '../../src/migration/controller.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { assertCounterAdvances, assertCounterStill, listen, until } from './harness.js';
import { checkSweepInvariant, COUNTER_GPA, SWEEP_PAGES } from './sweep-guest.js';
import { TestDestinationMachine, TestSourceMachine } from './test-machines.js';

const opts = { skip: kvmSkipReason(), timeout: 60_000 };

test('live migration of a RAM-dirtying guest: verify match, exact RAM, the guest goes on at the destination', opts, async () => {
  const kvm = KvmSystem.open();
  const src = new TestSourceMachine(kvm);
  const dst = new TestDestinationMachine(kvm);
  const d = await listen(dst);
  try {
    await until(() => src.counter > BigInt(SWEEP_PAGES) * 4n, 'the source guest to sweep its pages');
    const c = new MigrationController(src);
    c.setCapability('x-verify', true);
    // A 0 ms downtime limit is met only by an empty dirty set: pre-copy passes race the
    // guest until one finds nothing dirty (the device writes RAM in the first 3 passes,
    // so at least that many follow pass 0, whatever the vCPU thread's scheduling).
    c.setParameters({ downtimeLimitMs: 0 });
    src.dirtyFromDeviceDuring(3);
    const events: string[] = [];
    src.on('MIGRATION', (e: { status: string }) => events.push(e.status));
    const counterAtStart = src.counter;
    const stats = await c.start(`tcp:127.0.0.1:${d.port}`);
    await d.listener.completed;

    assert.equal(stats.status, 'completed', stats.error);
    assert.equal(stats.verify, 'match');
    assert.deepEqual(events, ['setup', 'active', 'device', 'completed']);
    assert.ok(stats.dirtySyncCount >= 4, `several dirty-log passes ran (${stats.dirtySyncCount})`);
    assert.ok(stats.downtimeMs !== undefined && stats.downtimeMs >= 0);
    assert.ok(stats.transferredBytes > 2 * SWEEP_PAGES * 4096, `pre-copy resent dirtied pages (${stats.transferredBytes} bytes)`);

    // The guest ran during pre-copy (that is what made it live).
    const counterAtSwitch = src.counter;
    assert.ok(counterAtSwitch > counterAtStart + BigInt(SWEEP_PAGES), `the source guest ran during pre-copy (${counterAtStart} → ${counterAtSwitch})`);

    // Source: paused for good, marked migrated, dirty logging off.
    assert.equal(src.runState(), 'postmigrate');
    assert.equal(src.markMigratedCalls, 1);
    assert.ok(src.trackers.every((t) => !t.isTracking));
    await assertCounterStill(() => src.counter, 'the migrated source');

    // Destination: the RAM it started from is the frozen source's, byte for byte.
    assert.ok(dst.started && dst.ramAtStart);
    const srcRam = Buffer.from(src.memory.regions[0].bytes);
    const diff = srcRam.findIndex((b, i) => b !== dst.ramAtStart![i]);
    assert.equal(diff, -1, `destination RAM differs from the source's at 0x${diff.toString(16)}`);
    checkSweepInvariant(src.memory, 'source RAM at the switch-over');
    assert.deepEqual(dst.deviceStates(), [src.device], 'device state arrived');
    assert.equal(dst.announced, 1, 'the destination announced the VM');
    assert.equal(dst.resumedVcpus, 1);
    assert.equal(dst.loadFailures.length, 0);
    assert.ok(d.notices.includes('incoming migration completed: the VM runs here now'), d.notices.join(' | '));

    // And its guest continues from the switch-over, not from scratch.
    await assertCounterAdvances(() => dst.counter, 'the destination');
    assert.ok(dst.memory.readU64(COUNTER_GPA) > counterAtSwitch);
    assert.deepEqual(dst.stops, [], 'the destination guest never stopped');
  } finally {
    d.listener.close();
    src.destroy();
    dst.destroy();
    kvm.close();
  }
});
