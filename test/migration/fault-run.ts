/**
 * One fault-injection run: a fresh source and destination, a migration through a
 * FaultProxy carrying one fault (or a cancel the case arms), then the checks every
 * fault must pass: the source failed or was cancelled with a reason, runs again with
 * consistent RAM; the destination began no VM; and a fresh attempt to the same
 * listener then succeeds.
 */
import assert from 'node:assert/strict';
import type { KvmSystem } from '../../src/kvm/system.js';
import { MigrationController } from '../../src/migration/controller.js';
import type { MigrationStats } from '../../src/migration/status.js';
import { assertCounterAdvances, assertDestinationUntouched, assertSourceRecovered, listen, until, type Destination } from './harness.js';
import { FaultProxy, type Fault } from './proxy.js';
import { SWEEP_PAGES } from './sweep-guest.js';
import { TEST_RAM, TestDestinationMachine, TestSourceMachine } from './test-machines.js';

export interface FaultCase {
  name: string;
  fault?: Fault;
  /** The source's error must match (a cancel: stats.error is undefined, status 'cancelled'). */
  expect: RegExp | 'cancelled';
  /** Sets up a migrate_cancel at some moment of the run. */
  arm?(c: MigrationController, src: TestSourceMachine, proxy: FaultProxy): void;
  /** The destination's "incoming migration failed: ..." notice must match. */
  destinationSays?: RegExp;
  /** false when the fault strikes before the destination sees a connection. */
  reachesDestination?: boolean;
  destinationRamBytes?: number;
  /** The destination's idle timeout (IncomingTcpOptions.idleTimeoutMs); 2 s by default. */
  destinationIdleTimeoutMs?: number;
  /** Pre-copy's downtime limit for the faulted run (0 by default: pass after pass). */
  downtimeLimitMs?: number;
}

export interface FaultOutcome {
  stats: MigrationStats;
  proxy: FaultProxy;
  destination: Destination;
}

export async function runFaultCase(kvm: KvmSystem, fc: FaultCase): Promise<FaultOutcome> {
  const src = new TestSourceMachine(kvm);
  const dst = new TestDestinationMachine(kvm, fc.destinationRamBytes ?? TEST_RAM);
  // 2 s, not the default minute: a damaged length field leaves the destination waiting
  // for bytes that never come while the source waits for 'loaded' (see faults.test.ts).
  const d = await listen(dst, fc.destinationIdleTimeoutMs ?? 2_000);
  const proxy = await FaultProxy.start(d.port, fc.fault);
  try {
    await until(() => src.counter > BigInt(SWEEP_PAGES) * 2n, 'the source guest to sweep its pages');
    const c = new MigrationController(src);
    c.setCapability('x-verify', true);
    c.setParameters({ downtimeLimitMs: fc.downtimeLimitMs ?? 0 });
    src.dirtyFromDeviceDuring(3);
    fc.arm?.(c, src, proxy);
    const stats = await c.start(`tcp:127.0.0.1:${proxy.port}`);
    if (fc.fault) assert.ok(proxy.fired, `${fc.name}: the stream never reached the fault point (status ${stats.status}, ${stats.error ?? ''})`);
    if (fc.expect === 'cancelled') assert.equal(stats.status, 'cancelled', `${fc.name}: ${stats.status} ${stats.error ?? ''}`);
    else assert.match(stats.error ?? `(no error, status ${stats.status})`, fc.expect, fc.name);
    await assertSourceRecovered(src, stats, fc.name);
    if (fc.reachesDestination !== false) await d.failures(1);
    if (fc.destinationSays) {
      const notice = d.notices.find((l) => l.startsWith('incoming migration failed'));
      assert.match(notice ?? '(no failure notice)', fc.destinationSays, `${fc.name}: the destination's reason`);
    }
    assertDestinationUntouched(dst, fc.name);
    if (fc.destinationRamBytes === undefined) await freshAttemptSucceeds(c, src, dst, d, fc.name);
    return { stats, proxy, destination: d };
  } finally {
    proxy.close();
    d.listener.close();
    src.destroy();
    dst.destroy();
  }
}

/** After a failed attempt the same listener takes a new one, and that one completes. */
async function freshAttemptSucceeds(c: MigrationController, src: TestSourceMachine, dst: TestDestinationMachine, d: Destination, name: string): Promise<void> {
  c.setParameters({ downtimeLimitMs: 300 });
  const again = await c.start(`tcp:127.0.0.1:${d.port}`);
  assert.equal(again.status, 'completed', `${name}: the fresh attempt: ${again.error ?? ''}`);
  assert.equal(again.verify, 'match', `${name}: the fresh attempt's verify`);
  await d.listener.completed;
  assert.equal(dst.started, true);
  assert.equal(src.runState(), 'postmigrate');
  await assertCounterAdvances(() => dst.counter, `${name}: the destination after the fresh attempt`);
}
