/**
 * migrate_cancel at different moments of a live migration between real KVM machines,
 * and stalls that a migration must ride out. After a cancel the same checks as after
 * any fault apply (fault-run.ts): cancelled without an error, the source runs again
 * with consistent RAM, the destination began no VM, a fresh attempt succeeds.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../src/kvm/system.js';
import { MigrationController } from '../../src/migration/controller.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { assertCounterAdvances, listen, until } from './harness.js';
import { runFaultCase } from './fault-run.js';
import { FaultProxy, describeFault, type Fault } from './proxy.js';
import { SWEEP_PAGES } from './sweep-guest.js';
import { TestDestinationMachine, TestSourceMachine } from './test-machines.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 30_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

test('cancel during setup (at the MIGRATION setup event)', opts, async () => {
  await runFaultCase(kvm!, {
    name: 'cancel in setup',
    expect: 'cancelled',
    arm: (c, src) => src.once('MIGRATION', () => c.cancel()),
  });
});

test('cancel during pre-copy (after the second pass)', opts, async () => {
  const { stats } = await runFaultCase(kvm!, {
    name: 'cancel in pre-copy',
    expect: 'cancelled',
    arm: (c, src) => {
      const onPass = (e: { pass: number }) => {
        if (e.pass < 2) return;
        src.off('MIGRATION_PASS', onPass);
        c.cancel();
      };
      src.on('MIGRATION_PASS', onPass);
    },
  });
  assert.ok(stats.dirtySyncCount >= 1);
});

test('cancel in the final phase (VM frozen, at the MIGRATION device event)', opts, async () => {
  const events: string[] = [];
  await runFaultCase(kvm!, {
    name: 'cancel in the final phase',
    expect: 'cancelled',
    arm: (c, src) => {
      const onStatus = (e: { status: string }) => {
        events.push(e.status);
        if (e.status === 'device') c.cancel();
        if (e.status === 'cancelled') src.off('MIGRATION', onStatus);
      };
      src.on('MIGRATION', onStatus);
    },
  });
  assert.deepEqual(events, ['setup', 'active', 'device', 'cancelling', 'cancelled']);
});

test('cancel after "loaded" arrived, before "go" left: still a cancel, the VM runs here', opts, async () => {
  await runFaultCase(kvm!, {
    name: 'cancel between loaded and go',
    expect: 'cancelled',
    // With verify on, the source reads guest RAM again only to hash it, after 'loaded'
    // arrived and right before it decides on 'go'.
    arm: (c, src) => {
      const onStatus = (e: { status: string }) => {
        if (e.status !== 'device') return;
        src.off('MIGRATION', onStatus);
        src.onNextMemoryAccess = () => c.cancel();
      };
      src.on('MIGRATION', onStatus);
    },
  });
});

test('cancel while the source waits for the destination\'s "loaded" (held back by the proxy)', opts, async () => {
  const fault: Fault = { at: { direction: 'replies', part: 'reply', index: 0, offset: 0 }, action: { kind: 'stall', ms: 5_000 } };
  const t0 = performance.now();
  await runFaultCase(kvm!, {
    name: 'cancel while waiting for loaded',
    fault,
    expect: 'cancelled',
    arm: (c, _src, proxy) => { void until(() => proxy.fired, 'the reply to be held').then(() => c.cancel()); },
  });
  assert.ok(performance.now() - t0 < 5_000, 'the cancel did not wait for the held reply');
});

test('cancel while the VM is being frozen: no "device" phase, the VM resumes', opts, async () => {
  const events: string[] = [];
  await runFaultCase(kvm!, {
    name: 'cancel during freeze',
    expect: 'cancelled',
    arm: (c, src) => {
      const onStatus = (e: { status: string }) => {
        events.push(e.status);
        if (e.status === 'cancelled') src.off('MIGRATION', onStatus);
      };
      src.on('MIGRATION', onStatus);
      // STOP is emitted inside freeze(): the cancel lands while freeze() has not returned.
      src.once('STOP', () => c.cancel());
    },
  });
  assert.deepEqual(events, ['setup', 'active', 'cancelling', 'cancelled']);
});

test('cancel after the source said "go" changes nothing: the VM runs at the destination only', opts, async () => {
  const src = new TestSourceMachine(kvm!);
  const dst = new TestDestinationMachine(kvm!);
  const d = await listen(dst);
  // Hold 'go' on its way: once the proxy has it, the source has sent it.
  const proxy = await FaultProxy.start(d.port, { at: { direction: 'stream', part: 'commands', offset: 0 }, action: { kind: 'stall', ms: 300 } });
  try {
    await until(() => src.counter > BigInt(SWEEP_PAGES), 'the source guest to sweep');
    const c = new MigrationController(src);
    const done = c.start(`tcp:127.0.0.1:${proxy.port}`);
    await until(() => proxy.fired, '"go" to be held');
    c.cancel();
    const stats = await done;
    assert.equal(stats.status, 'completed', stats.error);
    assert.equal(src.runState(), 'postmigrate');
    await d.listener.completed;
    await assertCounterAdvances(() => dst.counter, 'the destination');
  } finally {
    proxy.close();
    d.listener.close();
    src.destroy();
    dst.destroy();
  }
});

for (const fault of [
  { at: { direction: 'stream', part: 'memory', index: 0, offset: 300_000 }, action: { kind: 'stall', ms: 400 } },
  { at: { direction: 'stream', part: 'vcpu', offset: 100 }, action: { kind: 'stall', ms: 300 } },
  { at: { direction: 'replies', part: 'reply', index: 0, offset: 10 }, action: { kind: 'stall', ms: 300 } },
] satisfies Fault[]) {
  test(`a stall is no fault: ${describeFault(fault)} still completes, verified`, opts, async () => {
    const src = new TestSourceMachine(kvm!);
    const dst = new TestDestinationMachine(kvm!);
    const d = await listen(dst);
    const proxy = await FaultProxy.start(d.port, fault);
    try {
      await until(() => src.counter > BigInt(SWEEP_PAGES), 'the source guest to sweep');
      const c = new MigrationController(src);
      c.setCapability('x-verify', true);
      c.setParameters({ downtimeLimitMs: 0 });
      src.dirtyFromDeviceDuring(3);
      const stats = await c.start(`tcp:127.0.0.1:${proxy.port}`);
      assert.ok(proxy.fired, 'the stall happened');
      assert.equal(stats.status, 'completed', stats.error);
      assert.equal(stats.verify, 'match');
      await d.listener.completed;
      assert.deepEqual(dst.deviceStates(), [src.device]);
      await assertCounterAdvances(() => dst.counter, 'the destination');
    } finally {
      proxy.close();
      d.listener.close();
      src.destroy();
      dst.destroy();
    }
  });
}
