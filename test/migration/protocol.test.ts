/**
 * The migration session's edges between real KVM machines: a destination that
 * refuses (other RAM size; also with far more RAM to send than socket buffers hold,
 * where a source that only noticed at the end would block for ever), a hand-made hello
 * of another protocol version, a network partition, and the switch-over's two lost
 * messages: at most one VM runs, never two.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { KvmSystem } from '../../src/kvm/system.js';
import { MigrationController } from '../../src/migration/controller.js';
import { HELLO_MAGIC, HELLO_SIZE } from '../../src/migration/wire.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { assertCounterAdvances, assertCounterStill, assertDestinationUntouched, listen, until } from './harness.js';
import { runFaultCase } from './fault-run.js';
import { FaultProxy, type Fault } from './proxy.js';
import { SWEEP_PAGES } from './sweep-guest.js';
import { TEST_RAM, TestDestinationMachine, TestSourceMachine } from './test-machines.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 30_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());
const MiB = 1024 * 1024;

test('a destination with other RAM refuses, and the source says so and why', opts, async () => {
  await runFaultCase(kvm!, {
    name: 'RAM size mismatch',
    // Refused before or after the source sent its last byte (a small VM fits in socket buffers): the reason is the same.
    expect: /^the destination (refused the migration|could not load the VM): snapshot RAM size mismatch: the snapshot has 2 MiB of RAM, this machine 4 MiB \(start cuju with -m 2M\)$/,
    destinationRamBytes: 2 * TEST_RAM,
    destinationSays: /^incoming migration failed: snapshot RAM size mismatch/,
  });
});

test('a refusal reaches a source with far more to send than the sockets buffer (no endless wait on drain)', opts, async () => {
  const src = new TestSourceMachine(kvm!, 96 * MiB);
  // Non-zero RAM past the guest's 2 MiB: pass 0 must send all of it.
  src.memory.fill(TEST_RAM, 96 * MiB - TEST_RAM, 0xa5);
  const dst = new TestDestinationMachine(kvm!, 32 * MiB);
  const d = await listen(dst);
  try {
    await until(() => src.counter > BigInt(SWEEP_PAGES), 'the source guest to sweep');
    const c = new MigrationController(src);
    c.setParameters({ maxBandwidth: 4 * 1024 * MiB });
    const t0 = performance.now();
    const stats = await c.start(`tcp:127.0.0.1:${d.port}`);
    assert.equal(stats.status, 'failed');
    assert.match(stats.error!, /^the destination refused the migration: snapshot RAM size mismatch: the snapshot has 96 MiB of RAM, this machine 32 MiB/);
    assert.ok(stats.transferredBytes < 64 * MiB, `the source stopped sending early (${stats.transferredBytes} bytes)`);
    assert.ok(performance.now() - t0 < 10_000);
    assert.equal(src.runState(), 'running');
    await assertCounterAdvances(() => src.counter, 'the source');
    await d.failures(1);
    assertDestinationUntouched(dst, 'refusal of a large source');
  } finally {
    d.listener.close();
    src.destroy();
    dst.destroy();
  }
});

test('a hand-made hello of protocol version 2 is answered with both versions; the listener then takes a real migration', opts, async () => {
  const src = new TestSourceMachine(kvm!);
  const dst = new TestDestinationMachine(kvm!);
  const d = await listen(dst);
  try {
    const hello = Buffer.alloc(HELLO_SIZE);
    hello.write(HELLO_MAGIC, 0, 'latin1');
    hello.writeUInt32LE(2, 8);
    const s = connect({ host: '127.0.0.1', port: d.port });
    await once(s, 'connect');
    s.write(hello);
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    await once(s, 'close');
    const reply = Buffer.concat(chunks).toString('utf8');
    assert.equal(reply, JSON.stringify({ type: 'error', message: 'the source speaks migration protocol version 2, this cuju speaks 1: use the same cuju version on both hosts' }) + '\n');
    await d.failures(1);
    assert.equal(dst.attempts, 0, 'no machine was built for a bad hello');

    await until(() => src.counter > BigInt(SWEEP_PAGES), 'the source guest to sweep');
    const stats = await new MigrationController(src).start(`tcp:127.0.0.1:${d.port}`);
    assert.equal(stats.status, 'completed', stats.error);
    await d.listener.completed;
    await assertCounterAdvances(() => dst.counter, 'the destination');
  } finally {
    d.listener.close();
    src.destroy();
    dst.destroy();
  }
});

test('a network partition mid-stream: cancel recovers the source, the destination gives up after its idle timeout', opts, async () => {
  await runFaultCase(kvm!, {
    name: 'partition',
    fault: { at: { direction: 'stream', part: 'memory', index: 0, offset: 200_000 }, action: { kind: 'partition' } },
    expect: 'cancelled',
    destinationIdleTimeoutMs: 500,
    destinationSays: /nothing heard from the source for 0\.5 s: giving up on this attempt/,
    arm: (c, _src, proxy) => { void until(() => proxy.fired, 'the partition').then(() => setTimeout(() => c.cancel(), 200)); },
  });
});

/** A migration through `fault`; returns both machines (the caller destroys them). */
async function switchOverFault(fault: Fault) {
  const src = new TestSourceMachine(kvm!);
  const dst = new TestDestinationMachine(kvm!);
  const d = await listen(dst);
  const proxy = await FaultProxy.start(d.port, fault);
  await until(() => src.counter > BigInt(SWEEP_PAGES), 'the source guest to sweep');
  const stats = await new MigrationController(src).start(`tcp:127.0.0.1:${proxy.port}`);
  assert.ok(proxy.fired);
  return { src, dst, d, proxy, stats, done: () => { proxy.close(); d.listener.close(); src.destroy(); dst.destroy(); } };
}

test('"go" lost on the way: the destination never starts, the source stays paused and says `cont` is safe', opts, async () => {
  const r = await switchOverFault({ at: { direction: 'stream', part: 'commands', offset: 0 }, action: { kind: 'reset' } });
  try {
    assert.equal(r.stats.status, 'failed');
    assert.match(r.stats.error!, /did not confirm it started the VM; the VM stays paused here \(`cont` resumes it if the destination is not running it\)/);
    assert.equal(r.src.runState(), 'postmigrate');
    await assertCounterStill(() => r.src.counter, 'the source');
    await r.d.failures(1);
    assertDestinationUntouched(r.dst, 'lost go');
  } finally {
    r.done();
  }
});

test('"started" lost on the way back: the VM runs at the destination only', opts, async () => {
  const r = await switchOverFault({ at: { direction: 'replies', part: 'reply', index: 1, offset: 0 }, action: { kind: 'reset' } });
  try {
    assert.equal(r.stats.status, 'failed');
    assert.match(r.stats.error!, /did not confirm it started the VM/);
    assert.equal(r.src.runState(), 'postmigrate');
    await assertCounterStill(() => r.src.counter, 'the source');
    await r.d.listener.completed;
    assert.equal(r.dst.started, true);
    await assertCounterAdvances(() => r.dst.counter, 'the destination');
  } finally {
    r.done();
  }
});
