/**
 * FtPrimary's epoch pipeline over fakes (no KVM): numbering, the content of an epoch
 * being RAM at its boundary however the guest rewrites it afterwards, no dirty page
 * ever dropped, bounded pipelining, output released only after ACKs and in order, and
 * how protection ends (bad ACK, broken channel, cancel, failures during the pause).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_IN_FLIGHT } from '../../../src/ft/primary.js';
import { PAGE, settle } from './fakes.js';
import { assertEpochsRebuildRam, primaryRig, type Rig } from './rig.js';

/** Lets the socket take every epoch, including those the send chain queues meanwhile. */
async function drain(rig: Rig): Promise<void> {
  await settle();
  while (rig.channel.queued.length > 0) {
    rig.channel.transmit();
    await settle();
  }
}

/** Collects unhandled rejections for the duration of `body` (one would crash a VMM). */
async function noUnhandledRejections(body: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onRejection = (e: unknown) => seen.push(e);
  process.on('unhandledRejection', onRejection);
  try {
    await body();
    await settle(10);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  assert.deepEqual(seen.map((e) => (e as Error).message), [], 'unhandled rejections');
}

function assertEndedCleanly(rig: Rig, state: 'off' | 'unprotected', reason: RegExp): void {
  assert.equal(rig.stats.state, state);
  assert.match(rig.stats.reason ?? '', reason);
  assert.deepEqual(rig.ended.map((e) => e.state), [state], 'one ended event');
  assert.equal(rig.output.releaseAlls, 1, 'held output was released once');
  assert.equal(rig.guest.trackerStopped, true, 'dirty tracking stopped');
  assert.ok(rig.channel.closed, 'the channel was closed');
  assert.equal(rig.primary.running, false);
}

test('epochs are numbered 1, 2, 3 and carry RAM, VM and device state of their boundary', async (t) => {
  const rig = primaryRig(t, 16, (g) => { for (let p = 0; p < 16; p++) g.write(p, 1000 + p); });
  assert.deepEqual(rig.output.begun, [1], 'output from the start belongs to epoch 1');
  assert.equal(rig.stats.state, 'protected');
  for (let n = 1; n <= 3; n++) {
    rig.guest.write(n, n);
    rig.guest.write(n + 5, n);
    await rig.boundary();
  }
  await rig.boundary(); // an idle epoch: nothing dirty, still an epoch (vCPU state moves on)
  assert.deepEqual(rig.channel.sent.map((e) => e.epoch), [1, 2, 3, 4]);
  assert.deepEqual(rig.channel.sent.map((e) => [...e.pageNumbers]), [[1, 6], [2, 7], [3, 8], []]);
  assert.deepEqual(rig.channel.sent.map((e) => e.devices), [[{ boundary: 1 }], [{ boundary: 2 }], [{ boundary: 3 }], [{ boundary: 4 }]]);
  assert.deepEqual(rig.channel.sent.map((e) => new DataView(e.vm.pit.buffer, e.vm.pit.byteOffset).getUint32(4, true)), [1, 2, 3, 4], 'VM state captured at each boundary');
  assert.deepEqual(rig.output.begun, [1, 2, 3, 4, 5], 'each boundary starts the next epoch of output');
  assert.equal(rig.machine.resumes, rig.machine.parks, 'every park is followed by a resume');
  assert.equal(rig.stats.epoch, 4);
  assert.equal(rig.stats.totalEpochs, 4);
  assertEpochsRebuildRam(rig);
  // Output begun for epoch n+1 only once epoch n's state was captured: the pause order.
  assert.ok(rig.log.indexOf('park 2') < rig.log.indexOf('begin 3') && rig.log.indexOf('begin 3') < rig.log.indexOf('resume', rig.log.indexOf('park 2')));
});

test('a page rewritten right after the pause leaves with its content at the boundary while its epoch waits to be sent', async (t) => {
  const rig = primaryRig(t);
  rig.channel.autoTransmit = false;
  let value = 1;
  for (const p of [2, 3, 4, 9]) rig.guest.write(p, value);
  // The guest's first stores after each resume rewrite exactly the pages just staged.
  rig.machine.onResume = () => {
    value++;
    for (const p of [2, 3, 4, 9]) rig.guest.write(p, value);
  };
  await rig.boundary(); // epoch 1: value 1, queued
  await rig.boundary(); // epoch 2: value 2, behind it
  await rig.boundary(); // epoch 3: value 3
  assert.equal(rig.channel.sent.length, 0, 'nothing has left yet');
  assert.equal(rig.machine.ramAt.length, 3);
  await drain(rig);
  assert.deepEqual(rig.channel.sent.map((e) => e.epoch), [1, 2, 3]);
  for (const e of rig.channel.sent) {
    const page = Buffer.from(e.pageData.buffer, e.pageData.byteOffset, PAGE);
    assert.equal(page.readUInt32LE(0), (e.epoch * 2654435761) >>> 0, `epoch ${e.epoch} carries the value written before its boundary`);
  }
  assertEpochsRebuildRam(rig);
});

test('a dirty set as large as RAM goes out whole, in one epoch', async (t) => {
  const pages = 2048; // 8 MiB
  const rig = primaryRig(t, pages);
  for (let p = 0; p < pages; p++) rig.guest.write(p, p * 7 + 1);
  await rig.boundary();
  rig.guest.write(5, 1);
  await rig.boundary();
  assert.equal(rig.channel.sent[0].pageNumbers.length, pages, 'every dirty page is in the epoch');
  assert.equal(rig.channel.sent[0].pageData.length, pages * PAGE);
  assert.equal(rig.stats.lastEpochDirtyPages, 1);
  assertEpochsRebuildRam(rig);
});

test(`at most ${MAX_IN_FLIGHT} epochs unacknowledged: later boundaries let the guest run on, and the next epoch carries everything since`, async (t) => {
  const rig = primaryRig(t);
  for (let i = 0; i < 12; i++) {
    rig.guest.write(i % 16, i + 1);
    await rig.boundary();
    assert.ok(rig.stats.epochsInFlight <= MAX_IN_FLIGHT, `${rig.stats.epochsInFlight} epochs in flight`);
  }
  assert.equal(rig.channel.sent.length, MAX_IN_FLIGHT, 'no epoch beyond the bound was taken');
  assert.equal(rig.machine.parks, MAX_IN_FLIGHT, 'no pause beyond the bound either');
  assert.deepEqual(rig.guest.pendingDirty, [4, 5, 6, 7, 8, 9, 10, 11], 'pages dirtied meanwhile are still tracked');
  rig.channel.ack(1);
  await rig.boundary();
  assert.deepEqual(rig.channel.sent.map((e) => e.epoch), [1, 2, 3, 4, 5]);
  assert.deepEqual([...rig.channel.sent[4].pageNumbers], [4, 5, 6, 7, 8, 9, 10, 11], 'epoch 5 holds every page dirtied while the pipeline was full');
  assert.equal(rig.stats.epochsInFlight, 4);
  await rig.boundary();
  assert.equal(rig.channel.sent.length, 5, 'full again until the next ACK');
  assertEpochsRebuildRam(rig);
});

test('output of epoch N is released only after ACK N, in order; stale and repeated ACKs change nothing', async (t) => {
  const rig = primaryRig(t);
  for (let n = 1; n <= 4; n++) {
    rig.guest.write(n, n);
    await rig.boundary();
  }
  assert.deepEqual(rig.output.released, [], 'nothing released before an ACK');
  rig.channel.ack(2);
  await settle();
  assert.deepEqual(rig.output.released, [2]);
  assert.ok(rig.log.indexOf('ack 2') < rig.log.indexOf('release 2'));
  rig.channel.ack(1);
  rig.channel.ack(2);
  await settle();
  assert.deepEqual(rig.output.released, [2], 'older and repeated ACKs release nothing more');
  rig.channel.ack(3);
  rig.channel.ack(4);
  await settle();
  assert.deepEqual(rig.output.released, [2, 3, 4]);
  assert.equal(rig.stats.ackedEpoch, 4);
  assert.equal(rig.stats.epochsInFlight, 0);
  await rig.boundary();
  assert.equal(rig.channel.sent[4].releasedEpoch, 4, 'the next epoch tells the backup what was released');
  assert.equal(rig.channel.sent[0].releasedEpoch, 0);
  // Every release follows the ACK of the same epoch and of every epoch before it.
  for (const n of rig.output.released) {
    assert.ok(rig.log.indexOf(`ack ${n}`) >= 0 && rig.log.indexOf(`ack ${n}`) < rig.log.indexOf(`release ${n}`), `release ${n} after ack ${n}`);
  }
  assert.equal(rig.stats.state, 'protected');
});

test('an ACK for an epoch never sent ends protection: output released, tracking stopped', async (t) => {
  const rig = primaryRig(t);
  await rig.boundary();
  await rig.boundary();
  rig.channel.ack(5);
  await settle();
  assertEndedCleanly(rig, 'unprotected', /acknowledged epoch 5, which was never sent/);
  assert.deepEqual(rig.output.released, [], 'the bogus ACK released nothing');
  const parks = rig.machine.parks;
  await rig.boundary();
  assert.equal(rig.machine.parks, parks, 'no epoch after protection ended');
});

test('the channel closing (backup lost): output released, state unprotected, tracker stopped, no more epochs', async (t) => {
  const rig = primaryRig(t);
  rig.channel.autoTransmit = false;
  rig.guest.write(1, 1);
  await rig.boundary();
  await rig.boundary();
  rig.channel.breakConnection('read ECONNRESET');
  await settle();
  assertEndedCleanly(rig, 'unprotected', /backup lost: read ECONNRESET/);
  const parks = rig.machine.parks;
  rig.guest.write(2, 2);
  await rig.boundary();
  await rig.boundary();
  assert.equal(rig.machine.parks, parks, 'no epoch after protection ended');
  assert.equal(rig.guest.harvests, parks, 'no harvest from the stopped tracker');
});

test('a send that fails ends protection like a closed channel', async (t) => {
  const rig = primaryRig(t);
  rig.channel.autoTransmit = false;
  await rig.boundary();
  rig.channel.queued[0].reject(new Error('write EPIPE'));
  rig.channel.queued.splice(0);
  await settle();
  assertEndedCleanly(rig, 'unprotected', /backup lost: write EPIPE/);
});

test('cancel: every epoch already taken goes out, then CANCEL, then state off; no epoch follows the CANCEL', async (t) => {
  await noUnhandledRejections(async () => {
    const rig = primaryRig(t);
    rig.channel.autoTransmit = false;
    rig.guest.write(1, 1);
    await rig.boundary();
    rig.guest.write(2, 2);
    await rig.boundary();
    const cancelled = rig.primary.cancel('operator said so');
    // The epoch timer keeps ticking while the queued epochs drain.
    rig.guest.write(3, 3);
    await rig.boundary();
    await rig.boundary();
    await drain(rig);
    await cancelled;
    assert.deepEqual(rig.channel.sent.map((e) => e.epoch), [1, 2]);
    const wire = rig.log.filter((l) => l.startsWith('sent') || l.startsWith('send') || l === 'cancel');
    assert.equal(wire.at(-1), 'cancel', `CANCEL is the last message (${wire.join(', ')})`);
    assert.deepEqual(rig.channel.cancels, ['operator said so']);
    assertEndedCleanly(rig, 'off', /operator said so/);
  });
});

test('the channel breaking while the vCPUs are being parked: the guest is resumed and nothing throws', async (t) => {
  await noUnhandledRejections(async () => {
    const rig = primaryRig(t);
    let letPark!: () => void;
    rig.machine.holdParks = new Promise((r) => { letPark = r; });
    rig.guest.write(1, 1);
    await rig.boundary(); // parking has begun
    rig.channel.breakConnection('read ECONNRESET');
    letPark();
    await settle();
    assertEndedCleanly(rig, 'unprotected', /backup lost/);
    assert.equal(rig.machine.resumes, rig.machine.parks, 'the guest runs again');
    assert.equal(rig.channel.sent.length, 0);
  });
});

test('a state capture that fails ends protection (the VM runs on) instead of crashing the VMM', async (t) => {
  await noUnhandledRejections(async () => {
    const rig = primaryRig(t);
    await rig.boundary();
    rig.machine.failCapture = new Error('KVM_GET_PIT2 failed with EIO');
    await rig.boundary();
    assertEndedCleanly(rig, 'unprotected', /KVM_GET_PIT2 failed with EIO/);
    assert.equal(rig.machine.resumes, rig.machine.parks, 'the guest runs again');
    assert.deepEqual(rig.channel.sent.map((e) => e.epoch), [1]);
  });
});

test('a paused VM takes no epoch and keeps its dirty pages for the next one', async (t) => {
  const rig = primaryRig(t);
  rig.guest.write(3, 3);
  rig.machine.state = 'paused';
  await rig.boundary();
  await rig.boundary();
  assert.equal(rig.channel.sent.length, 0);
  assert.equal(rig.guest.harvests, 0, 'nothing harvested while paused');
  rig.machine.state = 'running';
  rig.guest.write(4, 4);
  await rig.boundary();
  assert.deepEqual([...rig.channel.sent[0].pageNumbers], [3, 4]);
  assertEpochsRebuildRam(rig);
});

test('an epoch carries the disk writes taken during its pause, discards first', async (t) => {
  const rig = primaryRig(t);
  rig.output.pendingWrites = [{ device: 0, offset: 4096, data: new Uint8Array([1, 2, 3]) }];
  rig.output.pendingDiscards = [{ device: 0, offset: 0, length: 4096 }];
  await rig.boundary();
  await rig.boundary();
  assert.deepEqual(rig.channel.sent[0].diskOps, [
    { kind: 'discard', device: 0, offset: 0, length: 4096 },
    { kind: 'write', device: 0, offset: 4096, data: new Uint8Array([1, 2, 3]) },
  ]);
  assert.deepEqual(rig.channel.sent[1].diskOps, []);
});

test('a dirty set reaching the watermark ends the epoch early; every page still goes out', async (t) => {
  const rig = primaryRig(t, 64);
  rig.stats.epochUs = 50_000; // 50 ms epochs: only the watermark can end one within a few ms
  rig.stats.watermarkPages = 8;
  await rig.boundary(); // the epoch armed at start() runs out: re-armed with 50 ms
  await drain(rig);
  const before = rig.channel.sent.length;
  for (let p = 0; p < 7; p++) rig.guest.write(p, 7);
  t.mock.timers.tick(20);
  await settle();
  assert.equal(rig.channel.sent.length + rig.channel.queued.length, before, '7 pages: under the watermark, no boundary yet');
  for (let p = 7; p < 20; p++) rig.guest.write(p, 8);
  t.mock.timers.tick(10); // the next poll sees 20 ≥ 8
  await drain(rig);
  assert.equal(rig.channel.sent.length, before + 1, 'the epoch ended early');
  assert.equal(rig.stats.earlyEpochs, 1);
  assert.deepEqual([...rig.channel.sent.at(-1)!.pageNumbers], Array.from({ length: 20 }, (_, i) => i), 'the whole dirty set, not just the watermark');
  rig.stats.watermarkPages = 0;
  for (let p = 20; p < 60; p++) rig.guest.write(p, 9);
  t.mock.timers.tick(30);
  await drain(rig);
  assert.equal(rig.channel.sent.length, before + 1, 'watermark off: the epoch runs its full length');
  t.mock.timers.tick(30);
  await drain(rig);
  assert.equal(rig.channel.sent.length, before + 2);
  assert.equal(rig.stats.earlyEpochs, 1);
  assertEpochsRebuildRam(rig);
});
